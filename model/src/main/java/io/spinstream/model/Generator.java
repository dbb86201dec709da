package io.spinstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.ArrayDeque;
import java.util.Set;

/**
 * Batched generation. Prompts are left-padded so that every row's next token sits in the same column;
 * with the KV cache each new token costs one position of attention. Stops a row at any of the model's stop tokens
 * (its EOS, and the others its config lists, such as an end-of-turn token), the whole batch
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
        return run(parent, prompts, sampling, rowSeeds, useCache, false, prompts.size(), TokenListener.NONE).stream()
                .map(Answer::tokens).toList();
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
        return run(parent, prompts, sampling, rowSeeds, true, true, prompts.size(), TokenListener.NONE);
    }

    /**
     * As {@link #answer(NDManager, List, Sampling, long[])} with at most {@code slots} rows at a time, refilled
     * (continuous batching): a row that finishes (EOS or its length) takes the next waiting prompt into the running
     * batch, so that short answers do not leave rows idle until the longest one of their batch ends. A prompt's
     * answer does not depend on when, or beside which others, it runs.
     */
    public List<Answer> answer(NDManager parent, List<int[]> prompts, Sampling sampling, long[] rowSeeds, int slots) {
        return answer(parent, prompts, sampling, rowSeeds, slots, TokenListener.NONE);
    }

    /**
     * Sees each answer token as it is chosen (EOS not included), with the log-softmax it was drawn from
     * ({@code logProbs}, the model's own distribution; read it, do not keep it); false ends that answer there
     * (a stop sequence).
     */
    @FunctionalInterface
    public interface TokenListener {
        boolean onToken(int prompt, int token, float[] logProbs);

        TokenListener NONE = (prompt, token, logProbs) -> true;
    }

    /** As {@link #answer(NDManager, List, Sampling, long[], int)}, telling {@code listener} every token as it comes. */
    public List<Answer> answer(NDManager parent, List<int[]> prompts, Sampling sampling, long[] rowSeeds, int slots,
                               TokenListener listener) {
        if (slots < 1) {
            throw new IllegalArgumentException("slots must be >= 1, got " + slots);
        }
        return run(parent, prompts, sampling, rowSeeds, true, true, slots, listener);
    }

    private List<Answer> run(NDManager parent, List<int[]> prompts, Sampling sampling, long[] rowSeeds, boolean useCache,
                             boolean scoreEos, int slots, TokenListener listener) {
        for (int j = 0; j < prompts.size(); j++) {
            if (prompts.get(j).length == 0) {
                throw new IllegalArgumentException("prompt " + j + " is empty");
            }
        }
        Answer[] answers = new Answer[prompts.size()];
        ArrayDeque<Integer> waiting = new ArrayDeque<>();
        for (int j = 0; j < prompts.size(); j++) {
            waiting.add(j);
        }
        try (NoGrad ignored = NoGrad.enter()) {
            while (!waiting.isEmpty()) { // a batch ends when no waiting prompt fits in its columns: the next starts afresh
                new Batch(parent, prompts, sampling, rowSeeds, useCache, scoreEos, slots, waiting, answers, listener).run();
            }
        }
        return Arrays.asList(answers);
    }

    /** A row of a running batch. */
    private enum RowState {
        ACTIVE,
        CLOSING, // stopped by its length: the next step's logits give log p(EOS)
        DONE
    }

    /**
     * One running batch. Prompts are left-padded so that every row's next token sits in the same column; a row
     * refilled later has its prompt end at the current column (the columns before it masked out for it), its
     * positions counted from its own first token, and its prompt but the last token written into the cache by a
     * pass of its own; the last prompt token goes through the next batch step, whose logits give its first token.
     */
    private final class Batch {

        private final NDManager parent;
        private final List<int[]> prompts;
        private final Sampling sampling;
        private final long[] seeds;
        private final boolean useCache;
        private final boolean scoreEos;
        private final ArrayDeque<Integer> waiting;
        private final Answer[] answers;
        private final TokenListener listener;
        private final LlamaConfig config = model.config();
        private final int eos = model.config().eosTokenId();
        private final Set<Integer> stops = model.config().stopTokens();
        private final int batch;
        private final int total;
        private final long[] tokens;
        private final float[] keyMask;
        private final int[] serves;
        private final int[] firstColumn; // the column of each row's first prompt token
        private final RowState[] state;
        private final int[] budget;
        private final Random[] random;
        private final double[] logProb;
        private final List<List<Integer>> out = new ArrayList<>();
        private final List<Integer> refilled = new ArrayList<>(); // rows refilled in this step, to prefill together
        private int promptLen;

        Batch(NDManager parent, List<int[]> prompts, Sampling sampling, long[] seeds, boolean useCache, boolean scoreEos,
              int slots, ArrayDeque<Integer> waiting, Answer[] answers, TokenListener listener) {
            this.listener = listener;
            this.parent = parent;
            this.prompts = prompts;
            this.sampling = sampling;
            this.seeds = seeds;
            this.useCache = useCache;
            this.scoreEos = scoreEos;
            this.waiting = waiting;
            this.answers = answers;
            this.batch = Math.min(slots, waiting.size());
            this.serves = new int[batch];
            this.firstColumn = new int[batch];
            for (int b = 0; b < batch; b++) {
                serves[b] = waiting.poll();
                promptLen = Math.max(promptLen, prompts.get(serves[b]).length);
            }
            int first = Math.min(sampling.maxNewTokens(), config.maxPositions() - promptLen);
            if (first < 1) {
                throw new IllegalArgumentException("a prompt of " + promptLen + " tokens leaves no room in a context of "
                        + config.maxPositions());
            }
            // Room for refills when prompts wait: columns are not positions, a refilled row starts at its own 0.
            this.total = promptLen + first * (waiting.isEmpty() ? 1 : 4);
            this.tokens = new long[batch * total];
            this.keyMask = new float[batch * total];
            this.state = new RowState[batch];
            Arrays.fill(state, RowState.ACTIVE);
            this.budget = new int[batch];
            this.random = new Random[batch];
            this.logProb = new double[batch];
            Arrays.fill(tokens, config.padTokenId());
            for (int b = 0; b < batch; b++) {
                int[] p = prompts.get(serves[b]);
                int offset = promptLen - p.length;
                firstColumn[b] = offset;
                for (int i = 0; i < p.length; i++) {
                    tokens[b * total + offset + i] = p[i];
                    keyMask[b * total + offset + i] = 1f;
                }
                budget[b] = first;
                random[b] = new Random(seeds[serves[b]]);
                out.add(new ArrayList<>());
            }
        }

        void run() {
            try (NDManager manager = parent.newSubManager();
                 KvCache cache = useCache ? new KvCache(manager, config.numLayers(), total) : null) {
                int length = promptLen; // columns filled so far
                int fed = 0;            // columns already in the cache
                while (Arrays.stream(state).anyMatch(st -> st != RowState.DONE)) {
                    int window = 0; // without a cache every step reads the whole sequence
                    if (cache != null) {
                        window = length;
                        for (int b = 0; b < batch; b++) {
                            if (state[b] != RowState.DONE) {
                                window = Math.min(window, firstColumn[b]);
                            }
                        }
                        cache.attendFrom(window);
                    }
                    float[][] logProbs = nextLogProbs(manager, tokens, keyMask, batch, total, useCache ? fed : 0, window, length,
                            cache);
                    fed = length;
                    int column = length; // where this step's tokens go
                    for (int b = 0; b < batch; b++) {
                        int token = config.padTokenId();
                        if (state[b] == RowState.CLOSING) {
                            logProb[b] += logProbs[b][eos];
                            finish(b);
                        } else if (state[b] == RowState.ACTIVE) {
                            // Log-softmax, not raw logits: the same choice (softmax ignores a shift) and the token's log p.
                            token = choose(logProbs[b], sampling, random[b]);
                            if (stops.contains(token)) {
                                // The answer as trained and scored ends with the model's EOS: its log p at this step
                                // (the same as the token's when the EOS itself was drawn).
                                logProb[b] += eos >= 0 ? logProbs[b][eos] : logProbs[b][token];
                                finish(b);
                            } else {
                                logProb[b] += logProbs[b][token];
                                out.get(b).add(token);
                                if (!listener.onToken(serves[b], token, logProbs[b])) {
                                    finish(b); // stopped by its caller: no EOS follows, its log-prob ends here
                                } else if (out.get(b).size() == budget[b]) {
                                    if (scoreEos && eos >= 0) {
                                        state[b] = RowState.CLOSING;
                                    } else {
                                        finish(b);
                                    }
                                }
                            }
                        }
                        if (column < total) {
                            tokens[b * total + column] = token;
                            // A finished row keeps attending to its own past only; its padding is masked.
                            keyMask[b * total + column] = state[b] == RowState.DONE ? 0f : 1f;
                        }
                        if (state[b] == RowState.DONE && column < total) {
                            refill(b, column);
                        }
                    }
                    prefill(column, manager, cache);
                    length++;
                    if (length > total && Arrays.stream(state).anyMatch(st -> st != RowState.DONE)) {
                        throw new IllegalStateException("a row outran the batch's " + total + " columns");
                    }
                }
            }
        }

        private void finish(int b) {
            state[b] = RowState.DONE;
            answers[serves[b]] = new Answer(out.get(b).stream().mapToInt(Integer::intValue).toArray(),
                    eos >= 0 ? logProb[b] : Double.NaN);
            serves[b] = -1;
        }

        /** Row b takes the next waiting prompt, its last token at {@code column}, when the prompt and its answer fit. */
        private void refill(int b, int column) {
            if (waiting.isEmpty() || serves[b] >= 0) {
                return;
            }
            int[] p = prompts.get(waiting.peek());
            int room = Math.min(sampling.maxNewTokens(), config.maxPositions() - p.length);
            int start = column - p.length + 1;
            if (room < 1 || start < 0 || column + room > total - 1) {
                return; // left for a later row, or the next batch
            }
            int j = waiting.poll();
            Arrays.fill(keyMask, b * total, b * total + total, 0f);
            firstColumn[b] = start;
            for (int i = 0; i < p.length; i++) {
                tokens[b * total + start + i] = p[i];
                keyMask[b * total + start + i] = 1f;
            }
            serves[b] = j;
            state[b] = RowState.ACTIVE;
            budget[b] = room;
            random[b] = new Random(seeds[j]);
            logProb[b] = 0;
            out.set(b, new ArrayList<>());
            refilled.add(b);
        }

        /**
         * The rows refilled at {@code column}: their prompts but the last token through one pass of their own
         * (left-padded among themselves, at positions from 0), into their columns of the cache.
         */
        private void prefill(int column, NDManager manager, KvCache cache) {
            List<Integer> rows = refilled.stream().filter(b -> prompts.get(serves[b]).length > 1).toList();
            refilled.clear();
            if (cache == null || rows.isEmpty()) {
                return; // without a cache every step reads the whole sequence anyway
            }
            int width = rows.stream().mapToInt(b -> prompts.get(serves[b]).length - 1).max().orElseThrow();
            long[] ids = new long[rows.size() * width];
            float[] mask = new float[rows.size() * width];
            Arrays.fill(ids, config.padTokenId());
            for (int r = 0; r < rows.size(); r++) {
                int[] p = prompts.get(serves[rows.get(r)]);
                for (int i = 0; i < p.length - 1; i++) {
                    ids[r * width + width - (p.length - 1) + i] = p[i];
                    mask[r * width + width - (p.length - 1) + i] = 1f;
                }
            }
            try (NDManager scope = manager.newSubManager(); KvCache own = new KvCache(scope, config.numLayers(), width)) {
                Shape shape = new Shape(rows.size(), width);
                model.hidden(scope.create(ids, shape), scope.create(positions(mask, rows.size(), width, 0, width), shape),
                        hasPadding(mask) ? scope.create(mask, shape) : null, own);
                for (int r = 0; r < rows.size(); r++) {
                    int n = prompts.get(serves[rows.get(r)]).length - 1;
                    cache.writeRow(rows.get(r), column - n, own, r, width - n, n);
                }
            }
        }
    }

    /**
     * Feeds columns [from, length), attending to the columns from {@code window} on, and returns each row's
     * log-softmax over the vocabulary at the last one.
     */
    private float[][] nextLogProbs(NDManager manager, long[] tokens, float[] keyMask, int batch, int total, int from, int window,
                                   int length, KvCache cache) {
        try (NDManager stepScope = manager.newSubManager()) {
            NDArray ids = stepScope.create(slice(tokens, batch, total, from, length), new Shape(batch, length - from));
            NDArray positions = stepScope.create(positions(keyMask, batch, total, from, length), new Shape(batch, length - from));
            float[] maskSoFar = slice(keyMask, batch, total, window, length);
            // Without padding the causal mask is all there is: skip building and adding a key mask.
            NDArray mask = hasPadding(maskSoFar) ? stepScope.create(maskSoFar, new Shape(batch, length - window)) : null;
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
