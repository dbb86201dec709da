package io.spinstream.cli.bench;

import io.spinstream.demo.Ablation;
import io.spinstream.evaluator.gate.PromotionGate;
import io.spinstream.evaluator.suite.Metric;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The gate comparison on candidates made by hand: one that gains a prompt by chance, one that is really better. */
class GateBenchTest {

    /** n prompts, the first {@code right} answered right. */
    static double[] em(int n, int right) {
        double[] v = new double[n];
        for (int i = 0; i < right; i++) {
            v[i] = 1;
        }
        return v;
    }

    /** The opponent right on the first {@code base}; the candidate on {@code base - worse} of them plus {@code better} others. */
    static double[] shifted(int n, int base, int better, int worse) {
        double[] v = em(n, base);
        for (int i = 0; i < worse; i++) {
            v[i] = 0;
        }
        for (int i = base; i < base + better; i++) {
            v[i] = 1;
        }
        return v;
    }

    @Test
    void theMarginGatePromotesNoiseThePairedGateDoesNot() {
        int n = 1000;
        // Held out: one prompt more (3 up, 2 down): the margin gate (0.001) promotes, the paired test cannot tell.
        // Test split: it is in fact worse (10 up, 30 down).
        Ablation.Judged lucky = new Ablation.Judged("spin", 1, 1, Map.of("exact_match", shifted(n, 800, 3, 2)),
                Map.of("exact_match", em(n, 800)), shifted(n, 800, 10, 30), em(n, 800));
        // Really better: 60 up, 10 down on held-out and test alike.
        Ablation.Judged real = new Ablation.Judged("sft", 1, 1, Map.of("exact_match", shifted(n, 700, 60, 10)),
                Map.of("exact_match", em(n, 700)), shifted(n, 700, 60, 10), em(n, 700));
        // Refused by both, better on test beyond its interval: a missed improvement for both.
        Ablation.Judged missed = new Ablation.Judged("sft", 2, 1, Map.of("exact_match", shifted(n, 700, 2, 4)),
                Map.of("exact_match", em(n, 700)), shifted(n, 700, 60, 10), em(n, 700));
        GateBench.MarginGate margin = new GateBench.MarginGate(Metric.EXACT_MATCH, 0.001, Map.of());
        PromotionGate stat = new PromotionGate(Metric.EXACT_MATCH, 0, Map.of(), 100, 0.95, 0.01);
        GateBench.Outcome o = GateBench.replay(List.of(lucky, real, missed), margin, stat, n);
        assertThat(o.pairs()).isEqualTo(3);
        assertThat(o.worseOnTest()).isEqualTo(1);
        assertThat(o.betterOnTest()).isEqualTo(2);
        assertThat(o.margin()).isEqualTo(new GateBench.Tally(2, 1, 1, 1));
        assertThat(o.statistical()).isEqualTo(new GateBench.Tally(1, 0, 2, 1));
        assertThat(o.lastLine()).isEqualTo("margin_false_promotions=0.500 stat_false_promotions=0.000 margin_missed=1.000"
                + " stat_missed=0.500 pairs=3");
        assertThat(o.table()).contains("| margin (means only) | 2 | 1 (0.50) | 1 | 1 (1.00) |", "| paired tests | 1 | 0 (0.00) | 2 | 1 (0.50) |");
    }
}
