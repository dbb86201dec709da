package io.spinstream.model.coreset;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.NoGrad;

import java.util.List;
import java.util.function.IntConsumer;

/**
 * A prompt's embedding: the L2-normalised mean of a checkpoint's final hidden states over the prompt's
 * tokens. Prompts are right-padded in batches; with causal attention a token never sees the padding after
 * it, and the mean leaves the padding out, so an embedding does not depend on its batch.
 */
public final class PromptEmbedder {
    private final LlamaModel model;
    private final int batchSize;

    public PromptEmbedder(LlamaModel model, int batchSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1");
        }
        this.model = model;
        this.batchSize = batchSize;
    }

    /** @param progress told how many prompts are embedded so far */
    public double[][] embed(NDManager parent, List<int[]> prompts, IntConsumer progress) {
        double[][] out = new double[prompts.size()][];
        int max = model.config().maxPositions();
        for (int from = 0; from < prompts.size(); from += batchSize) {
            List<int[]> batch = prompts.subList(from, Math.min(prompts.size(), from + batchSize));
            int steps = batch.stream().mapToInt(p -> Math.min(p.length, max)).max().orElse(1);
            long[] ids = new long[batch.size() * steps];
            float[] mask = new float[batch.size() * steps];
            java.util.Arrays.fill(ids, model.config().padTokenId());
            for (int b = 0; b < batch.size(); b++) {
                int[] p = batch.get(b);
                if (p.length == 0) {
                    throw new IllegalArgumentException("prompt " + (from + b) + " has no tokens");
                }
                // A prompt longer than the context is embedded by its first maxPositions tokens.
                for (int t = 0; t < Math.min(p.length, max); t++) {
                    ids[b * steps + t] = p[t];
                    mask[b * steps + t] = 1f;
                }
            }
            try (NoGrad ignored = NoGrad.enter(); NDManager scope = parent.newSubManager()) {
                NDArray input = scope.create(ids, new Shape(batch.size(), steps));
                NDArray keyMask = scope.create(mask, new Shape(batch.size(), steps));
                NDArray h = model.hidden(input, LlamaModel.defaultPositions(scope, batch.size(), steps), keyMask, null)
                        .toType(DataType.FLOAT32, false);
                NDArray m = keyMask.expandDims(-1);
                NDArray mean = h.mul(m).sum(new int[]{1}).div(m.sum(new int[]{1}));
                NDArray unit = mean.div(mean.norm(new int[]{1}, true).maximum(1e-12));
                float[] flat = unit.toFloatArray();
                int d = model.config().hiddenSize();
                for (int b = 0; b < batch.size(); b++) {
                    double[] v = new double[d];
                    for (int k = 0; k < d; k++) {
                        v[k] = flat[b * d + k];
                    }
                    out[from + b] = v;
                }
            }
            progress.accept(from + batch.size());
        }
        return out;
    }
}
