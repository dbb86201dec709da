package io.spinstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Batched generation. Prompts are left-padded so that every row's next token sits in the same column;
 * with the KV cache each new token costs one position of attention. Stops a row at EOS, the whole batch
 * when every row has stopped, at {@code maxNewTokens} or at the model's context length.
 */
public final class Generator {
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
        return run(parent, prompts, sampling, rowSeeds, useCache, false).stream().map(Answer::tokens).toList();
    }

    /**
     * A row's generated tokens and log p(tokens, EOS | prompt) under the model (its plain softmax, whatever the
     * sampling temperature): the sequence a scorer sees when the answer is re-encoded with its EOS. NaN when the
     * model has no EOS token.
     */
    public record Answer(int[] tokens, double logProbWithEos) {
    }

    /**
     * As {@link #generate(NDManager, List, Sampling, long[], boolean)} with the cache, and each answer's log-prob
     * taken from the logits generation computed anyway: the token's log-softmax at every step, and for a row
     * stopped by its length one more step for the EOS that closes it. Scoring the answers afterwards would run
     * the whole prompt and answer through the model again.
     */
    public List<Answer> answer(NDManager parent, List<int[]> prompts, Sampling sampling, long[] rowSeeds) {
        return run(parent, prompts, sampling, rowSeeds, true, true);
    }

    private List<Answer> run(NDManager parent, List<int[]> prompts, Sampling sampling, long[] rowSeeds, boolean useCache,
                             boolean scoreEos) {
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
        double[] logProb = new double[batch];
        int eos = config.eosTokenId();
        try (NoGrad ignored = NoGrad.enter(); NDManager manager = parent.newSubManager(); KvCache cache = useCache ? new KvCache(manager, config.numLayers(), total) : null) {
            int length = promptLen;      // columns filled so far
            int fed = 0;                  // columns already in the cache
            for (int step = 0; step < budget; step++) {
                float[][] lastLogits = nextLogProbs(manager, tokens, keyMask, batch, total, useCache ? fed : 0, length, cache);
                fed = length;
                for (int b = 0; b < batch; b++) {
                    int token = config.padTokenId();
                    if (!done[b]) {
                        // Log-softmax, not raw logits: the same choice (softmax ignores a shift) and the token's log p.
                        token = choose(lastLogits[b], sampling, random[b]);
                        logProb[b] += lastLogits[b][token];
                        if (token == eos) {
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
            if (scoreEos && eos >= 0 && !allDone(done)) {
                // Rows stopped by their length: one more step gives log p(EOS) after their last token.
                float[][] lastLogits = nextLogProbs(manager, tokens, keyMask, batch, total, fed, length, cache);
                for (int b = 0; b < batch; b++) {
                    if (!done[b]) {
                        logProb[b] += lastLogits[b][eos];
                    }
                }
            }
        }
        List<Answer> answers = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            answers.add(new Answer(out.get(b).stream().mapToInt(Integer::intValue).toArray(), eos >= 0 ? logProb[b] : Double.NaN));
        }
        return answers;
    }

    /** Feeds columns [from, length) and returns each row's log-softmax over the vocabulary at the last one. */
    private float[][] nextLogProbs(NDManager manager, long[] tokens, float[] keyMask, int batch, int total, int from, int length,
                                   KvCache cache) {
        try (NDManager stepScope = manager.newSubManager()) {
            NDArray ids = stepScope.create(slice(tokens, batch, total, from, length), new Shape(batch, length - from));
            NDArray positions = stepScope.create(positions(keyMask, batch, total, from, length), new Shape(batch, length - from));
            float[] maskSoFar = slice(keyMask, batch, total, 0, length);
            // Without padding the causal mask is all there is: skip building and adding a key mask.
            NDArray mask = hasPadding(maskSoFar) ? stepScope.create(maskSoFar, new Shape(batch, length)) : null;
            NDArray logits = model.lastLogits(ids, positions, mask, cache);
            float[] flat = logits.toType(DataType.FLOAT32, false).logSoftmax(-1).toFloatArray();
            int vocab = model.config().vocabSize();
            float[][] rows = new float[batch][];
            for (int b = 0; b < batch; b++) {
                rows[b] = Arrays.copyOfRange(flat, b * vocab, (b + 1) * vocab);
            }
            return rows;
        }
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
        if (sampling.topP() >= 1f) {
            // Nothing is cut: the inverse CDF in index order is the same distribution, without a sort.
            double u = random.nextDouble() * z;
            int last = 0;
            for (int i = 0; i < p.length; i++) {
                if (p[i] > 0) {
                    last = i;
                    u -= p[i];
                    if (u <= 0) {
                        return i;
                    }
                }
            }
            return last; // rounding left u above 0: the last token with any probability
        }
        int[] order = byDescending(p);
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

    /**
     * Indices of {@code p} from the largest value to the smallest, equal values in index order (what a stable
     * sort of boxed indices gives), by a merge sort on primitives: boxing and a comparator cost more than the
     * model's step on a small model.
     */
    static int[] byDescending(double[] p) {
        int n = p.length;
        int[] a = new int[n];
        int[] b = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        for (int width = 1; width < n; width *= 2) {
            for (int lo = 0; lo < n; lo += 2 * width) {
                int mid = Math.min(lo + width, n);
                int hi = Math.min(lo + 2 * width, n);
                int i = lo;
                int j = mid;
                for (int k = lo; k < hi; k++) {
                    // Take from the right run only when strictly larger: equal values keep their order.
                    if (i < mid && (j >= hi || p[a[i]] >= p[a[j]])) {
                        b[k] = a[i++];
                    } else {
                        b[k] = a[j++];
                    }
                }
            }
            int[] t = a;
            a = b;
            b = t;
        }
        return a;
    }
}
