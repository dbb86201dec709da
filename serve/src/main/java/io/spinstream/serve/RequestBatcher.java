package io.spinstream.serve;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.spinstream.model.Generator;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.LogProbs;
import io.spinstream.model.NoGrad;
import io.spinstream.model.TokenBatch;
import io.spinstream.model.Sampling;
import io.spinstream.inference.LoadedModel;

import java.util.IdentityHashMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The one thread that runs the model: it takes every request waiting (from any client), groups them by
 * sampling settings and answers each group as one batch (continuous batching beyond {@code rows}). A new
 * model is taken between batches, so a request in flight ends on the model it started with.
 */
public final class RequestBatcher implements AutoCloseable {

    /**
     * One answer to produce (a request with n = 3 is three jobs).
     *
     * @param model       the model the request was read with, which answers it while it is served
     * @param followsRun  the request named the run, not a checkpoint: once {@code model} is no longer served, the
     *                    run's newest opponent answers it (else it fails with {@link ModelGone})
     * @param topLogprobs -1: no log-probs; k >= 0: each answer token's log-prob and the k likeliest tokens there
     * @param echo        also the prompt tokens' log-probs (teacher-forced; what a scorer asks for)
     */
    public record Job(LoadedModel model, boolean followsRun, int[] prompt, float temperature, float topP, int maxTokens, long seed,
                      List<String> stop, int topLogprobs, boolean echo, TokenSink sink, CompletableFuture<Result> done) {
        public Job(LoadedModel model, int[] prompt, float temperature, float topP, int maxTokens, long seed, List<String> stop,
                   TokenSink sink, CompletableFuture<Result> done) {
            this(model, false, prompt, temperature, topP, maxTokens, seed, stop, -1, false, sink, done);
        }
    }

    /** The model a request named was replaced twice (or unloaded) before its turn came. */
    public static final class ModelGone extends RuntimeException {
        public ModelGone(String id) {
            super("The model '" + id + "' is no longer served.");
        }
    }

    /** A token with its log-prob under the model and the likeliest alternatives there (id, log-prob), best first. */
    public record TokenLogProb(int token, double logprob, List<Alternative> top) {
    }

    public record Alternative(int token, double logprob) {
    }

    /**
     * Text as it becomes final (what a stream sends), in order, with the log-probs of the tokens generated since the
     * last piece (empty when the request asked for none).
     */
    @FunctionalInterface
    public interface TokenSink {
        void text(String delta, List<TokenLogProb> tokens);

        TokenSink NONE = (delta, tokens) -> {
        };
    }

    /**
     * @param finishReason "stop" (EOS or a stop sequence) or "length"
     * @param tokens       the answer's tokens with their log-probs (those of its text), or empty when not asked
     * @param prompt       with {@code echo}: the prompt tokens' scores, else null
     */
    public record Result(String model, String text, int completionTokens, String finishReason, List<TokenLogProb> tokens,
                         PromptScores prompt) {
    }

    /**
     * log p of each prompt token after the ones before it (the first has none: NaN) and, when log-probs were asked
     * for (k > 0), the k likeliest tokens at each position, best first (the first position: none), as OpenAI's
     * and vLLM's echo give them: a scorer compares them with the prompt's own token to tell a greedy continuation.
     */
    public record PromptScores(double[] logprobs, List<List<Alternative>> top) {
    }

    /** How long the first request of a batch waits for others to join it. */
    static final long LINGER_NANOS = 5_000_000L;
    private final BlockingQueue<Job> queue = new LinkedBlockingQueue<>();
    private final ModelSlot models;
    private final NDManager manager;
    private final int rows;
    private final Thread worker;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean running = true;

    /** @param models what is served, refreshed before every batch (a swap takes effect between batches) */
    public RequestBatcher(ModelSlot models, NDManager manager, int rows) {
        this.models = models;
        this.manager = manager;
        this.rows = rows;
        this.worker = new Thread(this::loop, "serve-batcher");
        worker.setDaemon(true);
        worker.start();
    }

    /** Answers waiting for the model. */
    public int queued() {
        return queue.size();
    }

    public void submit(Job job) {
        if (!running) {
            throw new IllegalStateException("the server is stopping");
        }
        queue.add(job);
    }

    private void loop() {
        while (running) {
            List<Job> jobs = new ArrayList<>();
            try {
                Job first = queue.poll(200, TimeUnit.MILLISECONDS);
                LoadedModel main = models.refresh(); // idle too: a server that follows a run lists its new opponent at once
                if (first == null) {
                    continue;
                }
                jobs.add(first);
                // A moment for the other clients' requests (each sends its next one as its answer comes back):
                // a batch of one row at a time would leave the model's batching unused.
                long until = System.nanoTime() + LINGER_NANOS;
                while (jobs.size() < rows && System.nanoTime() < until) {
                    Job more = queue.poll(until - System.nanoTime(), TimeUnit.NANOSECONDS);
                    if (more != null) {
                        jobs.add(more);
                    }
                }
                queue.drainTo(jobs, 4 * rows - jobs.size());
                Map<LoadedModel, Map<String, List<Job>>> groups = new IdentityHashMap<>();
                for (Job j : jobs) {
                    LoadedModel by = models.serves(j.model()) ? j.model() : j.followsRun() ? main : null;
                    if (by == null) {
                        j.done().completeExceptionally(new ModelGone(j.model().id()));
                        continue;
                    }
                    groups.computeIfAbsent(by, k -> new LinkedHashMap<>())
                            .computeIfAbsent(j.temperature() + "/" + j.topP() + "/" + j.maxTokens(), k -> new ArrayList<>()).add(j);
                }
                for (Map.Entry<LoadedModel, Map<String, List<Job>>> byModel : groups.entrySet()) {
                    for (List<Job> group : byModel.getValue().values()) {
                        answer(byModel.getKey(), group);
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException | Error e) {
                failure.compareAndSet(null, e);
                jobs.forEach(j -> j.done().completeExceptionally(e));
            }
        }
    }

    private void answer(LoadedModel opponent, List<Job> group) {
        Job head = group.get(0);
        if (head.maxTokens() == 0) { // nothing to generate: the prompts' log-probs alone
            group.forEach(j -> j.done().complete(new Result(opponent.id(), "", 0, "length", List.of(),
                    j.echo() ? promptScores(opponent, j.prompt(), j.topLogprobs()) : null)));
            return;
        }
        Sampling sampling = new Sampling(head.temperature(), head.topP(), head.maxTokens(), 0L);
        List<int[]> prompts = group.stream().map(Job::prompt).toList();
        long[] seeds = group.stream().mapToLong(Job::seed).toArray();
        List<TextStream> streams = group.stream().map(j -> new TextStream(opponent, j)).toList();
        List<Generator.Answer> answers = new Generator(opponent.checkpoint().model()).answer(manager, prompts, sampling, seeds, rows,
                (prompt, token, logProbs) -> streams.get(prompt).add(token, logProbs));
        for (int i = 0; i < group.size(); i++) {
            TextStream s = streams.get(i);
            Job job = group.get(i);
            Generator.Answer a = answers.get(i);
            boolean length = !s.stopped && a.tokens().length >= job.maxTokens();
            PromptScores echoed = job.echo() ? promptScores(opponent, job.prompt(), job.topLogprobs()) : null;
            job.done().complete(new Result(opponent.id(), s.finish(), s.kept(), length ? "length" : "stop", s.logprobs(), echoed));
        }
    }

    /** The prompt's tokens scored teacher-forced: each given the ones before it, with the k likeliest there when k > 0. */
    private PromptScores promptScores(LoadedModel opponent, int[] prompt, int k) {
        double[] out = new double[prompt.length];
        out[0] = Double.NaN;
        List<List<Alternative>> top = new ArrayList<>();
        top.add(List.of());
        if (prompt.length < 2) {
            return new PromptScores(out, top);
        }
        LlamaModel model = opponent.checkpoint().model();
        try (NDManager scope = manager.newSubManager(); var ignored = NoGrad.enter()) {
            if (k <= 0) {
                // The whole prompt as the "response" to its first token: targets are tokens 1.. of the prompt.
                TokenBatch batch = TokenBatch.of(List.of(new TokenBatch.Example(new int[]{prompt[0]},
                        Arrays.copyOfRange(prompt, 1, prompt.length))), model.config().padTokenId());
                float[] lp = LogProbs.tokenLogProbs(model, scope, batch).toFloatArray();
                for (int t = 1; t < prompt.length; t++) {
                    out[t] = lp[t - 1];
                    top.add(List.of());
                }
                return new PromptScores(out, top);
            }
            // The whole distribution at each position (the head over every prompt position: bounded by the request's
            // token limit), its log-softmax in float32, the prompt's token and the k best read from it.
            int n = prompt.length - 1;
            long[] inputs = new long[n];
            long[] targets = new long[n];
            for (int t = 0; t < n; t++) {
                inputs[t] = prompt[t];
                targets[t] = prompt[t + 1];
            }
            NDArray lp = model.forward(scope.create(inputs, new Shape(1, n)), LlamaModel.defaultPositions(scope, 1, n), null, null)
                    .get(0).toType(DataType.FLOAT32, false).logSoftmax(-1); // [n, vocab]
            float[] own = lp.gather(scope.create(targets, new Shape(n, 1)), 1).toFloatArray();
            int kept = (int) Math.min(k, lp.getShape().get(1));
            NDList best = lp.topK(kept, -1);
            float[] values = best.get(0).toFloatArray();
            long[] tokens = best.get(1).toType(DataType.INT64, false).toLongArray();
            for (int t = 0; t < n; t++) {
                out[t + 1] = own[t];
                List<Alternative> at = new ArrayList<>();
                for (int j = 0; j < kept; j++) {
                    at.add(new Alternative((int) tokens[t * kept + j], values[t * kept + j]));
                }
                top.add(at);
            }
        }
        return new PromptScores(out, top);
    }

    /**
     * One answer's text as its tokens come: held back while its end could still be the start of a stop
     * sequence or of a character whose bytes have not all come, cut at the first stop sequence.
     */
    private static final class TextStream {
        private final LoadedModel opponent;
        private final Job job;
        private final List<Integer> tokens = new ArrayList<>();
        private final List<TokenLogProb> logprobs = new ArrayList<>();
        private final int holdBack;
        private int sent;
        private int logprobsSent;
        private String text = "";
        boolean stopped;

        TextStream(LoadedModel opponent, Job job) {
            this.opponent = opponent;
            this.job = job;
            this.holdBack = job.stop().stream().mapToInt(String::length).max().orElse(1) - 1;
        }

        /** False once a stop sequence has appeared: the answer ends there. */
        boolean add(int token, float[] logProbs) {
            tokens.add(token);
            if (job.topLogprobs() >= 0) {
                logprobs.add(new TokenLogProb(token, logProbs[token], top(logProbs, job.topLogprobs())));
            }
            if (job.sink() == TokenSink.NONE && job.stop().isEmpty()) {
                return true; // neither streamed nor cut: the text is decoded once, at the end
            }
            text = opponent.tokenizer().decode(tokens.stream().mapToInt(Integer::intValue).toArray());
            for (String stop : job.stop()) {
                int at = text.indexOf(stop);
                if (at >= 0) {
                    text = text.substring(0, at);
                    stopped = true;
                }
            }
            if (stopped) {
                // The token that completed the stop sequence is not part of the answer's text.
                tokens.remove(tokens.size() - 1);
                if (!logprobs.isEmpty()) {
                    logprobs.remove(logprobs.size() - 1);
                }
                return false;
            }
            int safe = text.length() - holdBack;
            while (safe > sent && text.charAt(safe - 1) == '\uFFFD') {
                safe--; // bytes of a character still to come decode as U+FFFD for now
            }
            if (safe > sent) {
                emit(text.substring(sent, safe));
                sent = safe;
            }
            return true;
        }

        /** One piece of text, with the log-probs of the tokens not sent yet. */
        private void emit(String delta) {
            List<TokenLogProb> fresh = List.copyOf(logprobs.subList(Math.min(logprobsSent, logprobs.size()), logprobs.size()));
            logprobsSent = logprobs.size();
            job.sink().text(delta, fresh);
        }

        int kept() {
            return tokens.size();
        }

        List<TokenLogProb> logprobs() {
            return List.copyOf(logprobs);
        }

        private static List<Alternative> top(float[] logProbs, int k) {
            List<Alternative> best = new ArrayList<>();
            for (int t = 0; t < logProbs.length && k > 0; t++) {
                if (best.size() < k || logProbs[t] > best.get(best.size() - 1).logprob()) {
                    Alternative a = new Alternative(t, logProbs[t]);
                    int at = 0;
                    while (at < best.size() && best.get(at).logprob() >= a.logprob()) {
                        at++;
                    }
                    best.add(at, a);
                    if (best.size() > k) {
                        best.remove(best.size() - 1);
                    }
                }
            }
            return best;
        }

        String finish() {
            if (!stopped) {
                text = opponent.tokenizer().decode(tokens.stream().mapToInt(Integer::intValue).toArray());
            }
            if (text.length() > sent || logprobsSent < logprobs.size()) {
                emit(text.substring(sent));
                sent = text.length();
            }
            return text;
        }
    }

    /** Why the model thread failed, or null. */
    public Throwable failure() {
        return failure.get();
    }

    @Override
    public void close() {
        running = false;
        worker.interrupt();
        try {
            worker.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        queue.forEach(j -> j.done().completeExceptionally(new IllegalStateException("the server stopped")));
    }
}
