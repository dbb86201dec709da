package io.spinstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * Batched generation. Prompts are left-padded so that every row's next token sits in the same column;
 * with the KV cache each new token costs one position of attention. Stops a row at EOS, the whole batch
 * when every row has stopped, at {@code maxNewTokens} or at the model's context length.
 */
public final class Generator {
    private static final ai.djl.ndarray.index.NDIndex LAST_POSITION = new ai.djl.ndarray.index.NDIndex(":, -1, :");
    private final LlamaModel model;

    public Generator(LlamaModel model) {
        this.model = model;
    }

    /** The generated tokens of each prompt, without the prompt and without the EOS that stopped it. */
    public List<int[]> generate(NDManager parent, List<int[]> prompts, Sampling sampling) {
        return generate(parent, prompts, sampling, true);
    }

    /**
     * @param useCache false recomputes the whole sequence for every token (the reference the cache is
     *                 tested against)
     */
    public List<int[]> generate(NDManager parent, List<int[]> prompts, Sampling sampling, boolean useCache) {
        long[] seeds = new long[prompts.size()];
        Random base = new Random(sampling.seed());
        for (int i = 0; i < seeds.length; i++) {
            seeds[i] = base.nextLong();
        }
        return generate(parent, prompts, sampling, seeds, useCache);
    }

    /**
     * @param rowSeeds one sampling seed per prompt, so that a prompt's answer does not depend on which
     *                 other prompts share its batch
     */
    public List<int[]> generate(NDManager parent, List<int[]> prompts, Sampling sampling, long[] rowSeeds,
                                boolean useCache) {
        LlamaConfig config = model.config();
        int batch = prompts.size();
        int promptLen = prompts.stream().mapToInt(p -> p.length).max().orElseThrow();
        int budget = Math.min(sampling.maxNewTokens(), config.maxPositions() - promptLen);
        if (budget < 1) {
            throw new IllegalArgumentException("a prompt of " + promptLen + " tokens leaves no room in a context of "
                    + config.maxPositions());
        }
        int total = promptLen + budget;
        long[] tokens = new long[batch * total];
        float[] keyMask = new float[batch * total];
        int[] nextPosition = new int[batch];
        Arrays.fill(tokens, config.padTokenId());
        for (int b = 0; b < batch; b++) {
            int[] p = prompts.get(b);
            if (p.length == 0) {
                throw new IllegalArgumentException("prompt " + b + " is empty");
            }
            int offset = promptLen - p.length;
            for (int i = 0; i < p.length; i++) {
                tokens[b * total + offset + i] = p[i];
                keyMask[b * total + offset + i] = 1f;
            }
            nextPosition[b] = p.length;
        }
        Random[] random = new Random[batch];
        for (int b = 0; b < batch; b++) {
            random[b] = new Random(rowSeeds[b]);
        }
        List<List<Integer>> out = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            out.add(new ArrayList<>());
        }
        boolean[] done = new boolean[batch];
        try (NoGrad ignored = NoGrad.enter(); NDManager manager = parent.newSubManager(); KvCache cache = useCache ? new KvCache(manager, config.numLayers(), total) : null) {
            int length = promptLen;      // columns filled so far
            int fed = 0;                  // columns already in the cache
            for (int step = 0; step < budget; step++) {
                float[][] lastLogits;
                try (NDManager stepScope = manager.newSubManager()) {
                    int from = useCache ? fed : 0;
                    NDArray ids = stepScope.create(slice(tokens, batch, total, from, length), new Shape(batch, length - from));
                    NDArray positions = stepScope.create(positions(keyMask, batch, total, from, length),
                            new Shape(batch, length - from));
                    float[] maskSoFar = slice(keyMask, batch, total, 0, length);
                    // Without padding the causal mask is all there is: skip building and adding a key mask.
                    NDArray mask = hasPadding(maskSoFar) ? stepScope.create(maskSoFar, new Shape(batch, length)) : null;
                    NDArray logits = model.forward(ids, positions, mask, cache);
                    NDArray last = logits.get(LAST_POSITION).toType(DataType.FLOAT32, false);
                    float[] flat = last.toFloatArray();
                    int vocab = config.vocabSize();
                    lastLogits = new float[batch][];
                    for (int b = 0; b < batch; b++) {
                        lastLogits[b] = Arrays.copyOfRange(flat, b * vocab, (b + 1) * vocab);
                    }
                }
                fed = length;
                for (int b = 0; b < batch; b++) {
                    int token = config.padTokenId();
                    if (!done[b]) {
                        token = choose(lastLogits[b], sampling, random[b]);
                        if (token == config.eosTokenId()) {
                            done[b] = true;
                        } else {
                            out.get(b).add(token);
                        }
                    }
                    tokens[b * total + length] = token;
                    // A finished row keeps attending to its own past only; its padding is masked.
                    keyMask[b * total + length] = done[b] ? 0f : 1f;
                }
                length++;
                if (allDone(done)) {
                    break;
                }
            }
        }
        return out.stream().map(l -> l.stream().mapToInt(Integer::intValue).toArray()).toList();
    }

    private static boolean hasPadding(float[] mask) {
        for (float m : mask) {
            if (m < 0.5f) {
                return true;
            }
        }
        return false;
    }

    private static boolean allDone(boolean[] done) {
        for (boolean d : done) {
            if (!d) {
                return false;
            }
        }
        return true;
    }

    private static long[] slice(long[] a, int batch, int total, int from, int to) {
        long[] out = new long[batch * (to - from)];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(a, b * total + from, out, b * (to - from), to - from);
        }
        return out;
    }

    private static float[] slice(float[] a, int batch, int total, int from, int to) {
        float[] out = new float[batch * (to - from)];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(a, b * total + from, out, b * (to - from), to - from);
        }
        return out;
    }

    /** Position of each column = number of real tokens before it in its row (left padding does not count). */
    private static long[] positions(float[] keyMask, int batch, int total, int from, int to) {
        long[] out = new long[batch * (to - from)];
        for (int b = 0; b < batch; b++) {
            long seen = 0;
            for (int c = 0; c < to; c++) {
                if (c >= from) {
                    out[b * (to - from) + (c - from)] = Math.max(0, seen - (keyMask[b * total + c] > 0.5f ? 0 : 1));
                }
                if (keyMask[b * total + c] > 0.5f) {
                    seen++;
                }
            }
        }
        return out;
    }

    static int choose(float[] logits, Sampling sampling, Random random) {
        if (sampling.isGreedy()) {
            int best = 0;
            for (int i = 1; i < logits.length; i++) {
                if (logits[i] > logits[best]) {
                    best = i;
                }
            }
            return best;
        }
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double[] p = new double[logits.length];
        double z = 0;
        for (int i = 0; i < logits.length; i++) {
            p[i] = Math.exp((logits[i] - max) / sampling.temperature());
            z += p[i];
        }
        Integer[] order = IntStream.range(0, p.length).boxed().toArray(Integer[]::new);
        final double[] probs = p;
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> probs[i]).reversed());
        double kept = 0;
        int cut = 0;
        while (cut < order.length && (cut == 0 || kept < sampling.topP() * z)) {
            kept += p[order[cut]];
            cut++;
        }
        double u = random.nextDouble() * kept;
        for (int i = 0; i < cut; i++) {
            u -= p[order[i]];
            if (u <= 0) {
                return order[i];
            }
        }
        return order[cut - 1];
    }
}
