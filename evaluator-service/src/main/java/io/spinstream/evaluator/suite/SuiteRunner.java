package io.spinstream.evaluator.suite;

import ai.djl.ndarray.NDManager;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.NoGrad;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.checkpoint.LoadedCheckpoint;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.model.tokenizer.SpinTokenizer;
import io.spinstream.schemas.Prompt;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.InstantSource;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.IntConsumer;

/**
 * Runs suites over held-out prompts, one after the other, with a progress line (prompts done, rate,
 * ETA) at most every {@code progressMs} while a suite runs, and the time each suite took.
 */
public final class SuiteRunner {
    private static final Logger log = LoggerFactory.getLogger(SuiteRunner.class);

    private final List<Suite> suites;
    private final int batchSize;
    private final int maxNewTokens;
    private final InstantSource clock;
    private final long progressMs;

    public SuiteRunner(List<Suite> suites, int batchSize, int maxNewTokens, InstantSource clock, long progressMs) {
        this.suites = List.copyOf(suites);
        this.batchSize = batchSize;
        this.maxNewTokens = maxNewTokens;
        this.clock = clock;
        this.progressMs = progressMs;
    }

    /**
     * Every suite's per-prompt metric for the checkpoint in {@code dir}, on its own (no opponent: for the
     * suites that need none), prompts laid out by {@code template}.
     */
    public Map<String, double[]> scoreCheckpoint(Path dir, List<Prompt> prompts, PromptTemplate template) {
        try (NDManager m = NDManager.newBaseManager(); LoadedCheckpoint c = CheckpointStore.load(dir, m);
             SpinTokenizer tok = SpinTokenizer.load(c.tokenizerJson(), template, c.model().config().eosTokenId());
             NoGrad ignored = NoGrad.enter()) {
            return score(c.metadata().id(), prompts, c.model(), tok, null, null, m, false);
        }
    }

    /** Each metric's estimate: the mean of its per-prompt values. */
    public static Map<String, Double> means(Map<String, double[]> perPrompt) {
        Map<String, Double> out = new TreeMap<>();
        perPrompt.forEach((k, v) -> out.put(k, Suite.mean(v)));
        return out;
    }

    /** The suites named, e.g. {@code nll, exact_match}. */
    public static SuiteRunner of(List<String> names, int batchSize, int maxNewTokens) {
        return new SuiteRunner(names.stream().map(Suite::named).toList(), batchSize, maxNewTokens, InstantSource.system(), 5000);
    }

    /**
     * Every suite's metric for {@code model} ({@code what} names it in the log). {@code opponent} and its
     * {@code answers} are the baseline (null where no suite needs them); {@code asBaseline}: the model
     * under test is the opponent itself.
     */
    public Map<String, double[]> score(String what, List<Prompt> prompts, LlamaModel model, SpinTokenizer tokenizer,
                                       LlamaModel opponent, OpponentAnswers answers, NDManager manager, boolean asBaseline) {
        Map<String, double[]> out = new TreeMap<>();
        for (Suite suite : suites) {
            long t0 = clock.millis();
            long[] lastLog = {t0};
            IntConsumer progress = done -> {
                long now = clock.millis();
                if (now - lastLog[0] >= progressMs) {
                    lastLog[0] = now;
                    double rate = done / Math.max(1e-3, (now - t0) / 1000.0);
                    log.info(String.format(Locale.ROOT, "evaluating %s: %s %d/%d prompts (%.1f /s, ETA %.0f s)", what,
                            suite.name(), done, prompts.size(), rate, (prompts.size() - done) / Math.max(rate, 1e-9)));
                }
            };
            Scoring s = new Scoring(prompts, model, tokenizer, opponent, answers, manager, batchSize, maxNewTokens, progress);
            double[] v = asBaseline ? suite.baseline(s) : suite.score(s);
            if (v != null) {
                out.put(suite.metric().name(), v);
            }
            log.info("{}: {} = {} over {} prompts ({} ms)", what, suite.metric().name(), v == null ? null : Suite.mean(v),
                    v == null ? 0 : v.length, clock.millis() - t0);
        }
        return out;
    }
}
