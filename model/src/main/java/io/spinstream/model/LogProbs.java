package io.spinstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import java.util.List;

/** Batched log-probabilities of responses given prompts, the quantity every objective is built on. */
public final class LogProbs {
    private LogProbs() {
    }

    /** Log p of each target token [batch, steps] (prompt and padding positions included, unmasked). */
    public static NDArray tokenLogProbs(LlamaModel model, NDManager manager, TokenBatch batch) {
        NDArray inputs = batch.inputs(manager);
        NDArray positions = LlamaModel.defaultPositions(manager, batch.batch(), batch.steps());
        return model.targetLogProbs(inputs, positions, batch.targets(manager));
    }

    /** Sum and per-token mean of log p(response | prompt) for every sequence of the batch. */
    public static SequenceLogProbs of(LlamaModel model, NDManager manager, TokenBatch batch) {
        NDArray tokens = tokenLogProbs(model, manager, batch);
        NDArray mask = batch.responseMask(manager, tokens.getDataType());
        NDArray sum = tokens.mul(mask).sum(new int[]{1});
        NDArray lengths = mask.sum(new int[]{1});
        // An empty response has log p = 0 and mean 0 (guarded against 0/0).
        NDArray mean = sum.div(lengths.maximum(1));
        return new SequenceLogProbs(sum, mean, lengths);
    }

    /** Tokens one scoring pass takes at most: what a forward pass keeps alive grows with it. */
    static final int SCORING_TOKENS = 2048;

    /**
     * Without gradients, as plain numbers: what generators and evaluators publish. Scored in chunks of rows
     * of at most {@link #SCORING_TOKENS} tokens, each in a scope of its own: a forward pass keeps every
     * layer's activations until its scope closes, so one pass over a large batch would hold gigabytes (and
     * cost more than the chunks together).
     */
    public static double[] sums(LlamaModel model, NDManager parent, TokenBatch batch) {
        double[] out = new double[batch.batch()];
        int rowsPerChunk = Math.max(1, SCORING_TOKENS / Math.max(1, batch.steps()));
        try (NoGrad ignored = NoGrad.enter()) {
            for (int from = 0; from < batch.batch(); from += rowsPerChunk) {
                int to = Math.min(batch.batch(), from + rowsPerChunk);
                TokenBatch chunk = from == 0 && to == batch.batch() ? batch : batch.rows(from, to);
                try (NDManager scope = parent.newSubManager()) {
                    double[] part = of(model, scope, chunk).sum().toType(DataType.FLOAT64, false).toDoubleArray();
                    System.arraycopy(part, 0, out, from, part.length);
                }
            }
        }
        return out;
    }

    /**
     * As {@link #sums(LlamaModel, NDManager, TokenBatch)} for examples of any lengths: they are scored shortest
     * first, each chunk padded only to its own longest, so that short rows do not pay for the longest one's
     * positions. In the examples' order.
     */
    public static double[] sums(LlamaModel model, NDManager parent, List<TokenBatch.Example> examples, int padId) {
        Integer[] order = new Integer[examples.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, java.util.Comparator.comparingInt(i -> examples.get(i).length()));
        double[] out = new double[examples.size()];
        int from = 0;
        while (from < order.length) {
            // Rows are sorted, so the chunk's width is its last row's: grow it while it stays within the budget.
            int to = from + 1;
            while (to < order.length && (long) (to + 1 - from) * (examples.get(order[to]).length() - 1) <= SCORING_TOKENS) {
                to++;
            }
            List<TokenBatch.Example> chunk = new java.util.ArrayList<>();
            for (int i = from; i < to; i++) {
                chunk.add(examples.get(order[i]));
            }
            double[] part = sums(model, parent, TokenBatch.of(chunk, padId));
            for (int i = from; i < to; i++) {
                out[order[i]] = part[i - from];
            }
            from = to;
        }
        return out;
    }
}
