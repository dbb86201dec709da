package io.spinstream.evaluator.gate;

import io.spinstream.evaluator.suite.Metric;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The gate's paired tests on per-prompt values, with reference values computed by hand. */
class PromotionGateTest {
    static final PromotionGate EM_GATE = new PromotionGate(Metric.EXACT_MATCH, 0.0,
            PromotionGate.parseGuards("heldout_nll:0.02"), 10, 0.95, 0.01);

    /** n prompts; the candidate right where the opponent is wrong on {@code better}, the reverse on {@code worse}. */
    static double[][] exactMatch(int n, int better, int worse) {
        double[] c = new double[n];
        double[] b = new double[n];
        for (int i = 0; i < n; i++) {
            boolean bothRight = i >= better + worse && i % 2 == 0;
            c[i] = i < better || bothRight ? 1 : 0;
            b[i] = (i >= better && i < better + worse) || bothRight ? 1 : 0;
        }
        return new double[][]{c, b};
    }

    /** P(X >= k) for X ~ Binomial(n, 1/2), summed directly. */
    static double upperTail(int n, int k) {
        double sum = 0;
        for (int j = k; j <= n; j++) {
            double comb = 1;
            for (int i = 0; i < j; i++) {
                comb = comb * (n - i) / (i + 1);
            }
            sum += comb;
        }
        return sum / Math.pow(2, n);
    }

    @Test
    void mcNemarIsTheExactSignTestOnTheDiscordantPrompts() {
        double[][] em = exactMatch(200, 15, 5);
        PairedTest t = PairedTest.better(Metric.EXACT_MATCH, em[0], em[1], 0.95);
        assertThat(t.method()).isEqualTo("mcnemar-exact");
        assertThat(t.n()).isEqualTo(200);
        assertThat(t.improvement()).isCloseTo(10.0 / 200, within(1e-12));
        assertThat(t.pValue()).isCloseTo(upperTail(20, 15), within(1e-12)).isCloseTo(21700.0 / 1048576, within(1e-12));
        // Wald interval of a paired difference: (b-c)/n ± z·sqrt(b+c-(b-c)²/n)/n
        double se = Math.sqrt(20 - 100.0 / 200) / 200;
        assertThat(t.ciLow()).isCloseTo(0.05 - 1.959964 * se, within(1e-5));
        assertThat(t.ciHigh()).isCloseTo(0.05 + 1.959964 * se, within(1e-5));
        assertThat(t.discordant()).isEqualTo(0.1);
    }

    @Test
    void otherMetricsByAPairedTTest() {
        // Lower NLL is better: improvements 1, 2, 3, 4, 5; mean 3, sd sqrt(2.5), t = 3 / (sd/sqrt 5) = 4.243, 4 df.
        double[] baseline = {2, 3, 4, 5, 6};
        double[] candidate = {1, 1, 1, 1, 1};
        PairedTest t = PairedTest.better(Metric.HELD_OUT_NLL, candidate, baseline, 0.95);
        assertThat(t.method()).isEqualTo("paired-t");
        assertThat(t.improvement()).isEqualTo(3.0);
        assertThat(t.sd()).isCloseTo(Math.sqrt(2.5), within(1e-12));
        assertThat(t.pValue()).as("t 4.243 on 4 df lies between the 0.99 (3.747) and 0.995 (4.604) quantiles").isBetween(0.005, 0.01);
        double half = 2.776445 * Math.sqrt(2.5) / Math.sqrt(5); // t(0.975, 4 df)
        assertThat(t.ciLow()).isCloseTo(3 - half, within(1e-4));
        assertThat(t.ciHigh()).isCloseTo(3 + half, within(1e-4));
        // A guard: worse by more than 0.5? The candidate is better: p near 1.
        assertThat(PairedTest.worseBeyond(Metric.HELD_OUT_NLL, candidate, baseline, 0.5, 0.95).pValue()).isGreaterThan(0.99);
    }

    @Test
    void aSignificantlyBetterCandidateWithinItsGuardsIsPromoted() {
        double[][] em = exactMatch(400, 40, 10);
        double[] nll = new double[400];
        Arrays.fill(nll, 0.5);
        var d = EM_GATE.judge(Map.of("exact_match", em[0], "heldout_nll", nll), Map.of("exact_match", em[1], "heldout_nll", nll), 400);
        assertThat(d.promote()).as(d.reasons().toString()).isTrue();
        assertThat(d.reasons().get(0)).startsWith("exact_match +0.0750 [").contains("mcnemar-exact, n = 400").endsWith("better at 0.95");
        assertThat(d.reasons().get(1)).startsWith("guard heldout_nll +0.0000").endsWith("held (tolerance 0.02)");
        assertThat(d.tests()).containsKeys("exact_match", "heldout_nll");
        assertThat(d.tests().get("exact_match").toRecord().getPValue()).isCloseTo(upperTail(50, 40), within(1e-12));
    }

    @Test
    void aDifferenceThatCannotBeToldFromNoiseIsRefusedAndSaysWhatThePromptsCouldDetect() {
        double[][] em = exactMatch(300, 12, 8);
        var d = EM_GATE.judge(Map.of("exact_match", em[0]), Map.of("exact_match", em[1]), 300);
        assertThat(d.promote()).isFalse();
        assertThat(d.reasons().get(0)).contains("not significant at 0.95").contains("300 prompts detect an improvement of about")
                .contains("detecting spin.gate.min.effect 0.0100 needs about");
        assertThat(d.tests().get("exact_match").pValue()).isCloseTo(upperTail(20, 12), within(1e-12));
        var same = EM_GATE.judge(Map.of("exact_match", em[1]), Map.of("exact_match", em[1]), 300);
        assertThat(same.promote()).isFalse();
        assertThat(same.reasons().get(0)).contains("do not differ on any prompt");
    }

    @Test
    void aGuardSignificantlyWorseBeyondItsToleranceRefuses() {
        double[][] em = exactMatch(400, 60, 5);
        double[] worse = new double[400];
        double[] base = new double[400];
        for (int i = 0; i < 400; i++) {
            base[i] = 0.5 + 0.01 * (i % 7);
            worse[i] = base[i] + 0.1 + 0.02 * (i % 3); // NLL up by about 0.12 > tolerance 0.02
        }
        var d = EM_GATE.judge(Map.of("exact_match", em[0], "heldout_nll", worse), Map.of("exact_match", em[1], "heldout_nll", base), 400);
        assertThat(d.promote()).isFalse();
        assertThat(d.reasons().get(1)).startsWith("guard heldout_nll -0.11").contains("worse beyond its tolerance 0.02 at 0.95");
    }

    @Test
    void tooFewPromptsUnmeasuredPrimaryAndBadSettingsAreNamed() {
        double[][] em = exactMatch(400, 60, 5);
        var few = EM_GATE.judge(Map.of("exact_match", em[0]), Map.of("exact_match", em[1]), 5);
        assertThat(few.promote()).isFalse();
        assertThat(few.reasons()).contains("only 5 held-out prompts scored; at least 10 are needed");
        var unmeasured = EM_GATE.judge(Map.of(), Map.of(), 50);
        assertThat(unmeasured.reasons()).anyMatch(r -> r.contains("primary metric exact_match was not measured"));
        PromotionGate margin = new PromotionGate(Metric.EXACT_MATCH, 0.5, Map.of(), 1, 0.95, 0.01);
        assertThat(margin.judge(Map.of("exact_match", em[0]), Map.of("exact_match", em[1]), 400).reasons().get(0))
                .contains("but below the margin 0.5");
        assertThatThrownBy(() -> PromotionGate.parseGuards("exact_match")).hasMessageContaining("expected metric:tolerance");
        assertThatThrownBy(() -> PromotionGate.parseGuards("bleu:0.1")).hasMessageContaining("unknown metric 'bleu'");
        assertThatThrownBy(() -> PromotionGate.parseGuards("exact_match:-1")).hasMessageContaining("finite number >= 0");
        assertThatThrownBy(() -> new PromotionGate(Metric.EXACT_MATCH, 0, Map.of(), 1, 1.0, 0.01)).hasMessageContaining("(0.5, 1)");
    }
}
