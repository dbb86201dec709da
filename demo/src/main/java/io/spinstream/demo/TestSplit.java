package io.spinstream.demo;

import io.spinstream.evaluator.gate.PairedTest;
import io.spinstream.evaluator.suite.Metric;
import io.spinstream.evaluator.suite.SuiteRunner;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.schemas.Prompt;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The demo's report on its test split: prompts that no decision read (no training, no gate, no early
 * stopping), so the final opponent's figure there is not biased upward by the gate's selection.
 */
public final class TestSplit {
    static final double CONFIDENCE = 0.95;

    private TestSplit() {
    }

    public static List<Prompt> prompts(DemoSetup setup) {
        return setup.prompts().stream().filter(p -> setup.split().isTest(p.getPromptId())).toList();
    }

    /** Exact match of {@code candidate} against {@code baseline} on the test split, paired prompt by prompt. */
    public static PairedTest compare(DemoSetup setup, Path candidate, Path baseline) {
        List<Prompt> test = prompts(setup);
        return PairedTest.better(Metric.EXACT_MATCH, exactMatch(candidate, test, setup), exactMatch(baseline, test, setup), CONFIDENCE);
    }

    /** Per-prompt exact match (1 or 0) of the checkpoint in {@code dir}. */
    static double[] exactMatch(Path dir, List<Prompt> prompts, DemoSetup setup) {
        return SuiteRunner.of(List.of("exact_match"), 256, setup.task().maxAnswerTokens())
                .scoreCheckpoint(dir, prompts, PromptTemplate.PLAIN).getOrDefault("exact_match", new double[0]);
    }

    /**
     * The interval of one exact-match rate at the report's confidence: Wilson's score interval, which stays
     * inside [0, 1] and keeps its width at rates near 0 or 1, where Wald's collapses to a point.
     */
    static double[] interval(double rate, int n) {
        double z = 1.959964;
        double m = Math.max(1, n);
        double denominator = 1 + z * z / m;
        double centre = (rate + z * z / (2 * m)) / denominator;
        double half = z * Math.sqrt(rate * (1 - rate) / m + z * z / (4 * m * m)) / denominator;
        return new double[]{Math.max(0, centre - half), Math.min(1, centre + half)};
    }

    public static String describe(PairedTest t) {
        double[] b = interval(t.baseline(), t.n());
        double[] c = interval(t.candidate(), t.n());
        String verdict = t.ciLow() > 0 ? "better" : t.ciHigh() < 0 ? "worse" : "not distinguishable from the base";
        return String.format(Locale.ROOT, "test split (%d prompts no decision read): base %.4f [%.4f, %.4f], final opponent %.4f"
                        + " [%.4f, %.4f], difference %+.4f [%+.4f, %+.4f] (95%%, paired): %s", t.n(), t.baseline(), b[0], b[1],
                t.candidate(), c[0], c[1], t.improvement(), t.ciLow(), t.ciHigh(), verdict);
    }
}
