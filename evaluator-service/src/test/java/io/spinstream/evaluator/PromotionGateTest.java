package io.spinstream.evaluator;

import io.spinstream.evaluator.suite.Metric;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PromotionGateTest {
    private final PromotionGate gate = new PromotionGate(Metric.HELD_OUT_NLL, 0.01,
            PromotionGate.parseGuards("exact_match:0.02"), 10);

    @Test
    void aBetterCandidateWithinItsGuardsPasses() {
        var d = gate.judge(Map.of("heldout_nll", 1.50, "exact_match", 0.61), Map.of("heldout_nll", 1.60, "exact_match", 0.62), 50);
        assertThat(d.promote()).isTrue();
        assertThat(d.reasons()).anyMatch(r -> r.startsWith("heldout_nll improved: 1.5000 vs 1.6000 (improvement +0.1000"))
                .anyMatch(r -> r.startsWith("guard exact_match held"));
    }

    @Test
    void eachFailureIsNamed() {
        var tooSmall = gate.judge(Map.of("heldout_nll", 1.595), Map.of("heldout_nll", 1.60), 50);
        assertThat(tooSmall.promote()).isFalse();
        assertThat(tooSmall.reasons()).anyMatch(r -> r.contains("did not improve enough"));

        var regressed = gate.judge(Map.of("heldout_nll", 1.0, "exact_match", 0.50), Map.of("heldout_nll", 1.6, "exact_match", 0.62), 50);
        assertThat(regressed.promote()).isFalse();
        assertThat(regressed.reasons()).anyMatch(r -> r.startsWith("guard exact_match regressed: 0.5000 vs 0.6200 (regression +0.1200"));

        var few = gate.judge(Map.of("heldout_nll", 1.0), Map.of("heldout_nll", 1.6), 5);
        assertThat(few.promote()).isFalse();
        assertThat(few.reasons()).contains("only 5 held-out prompts scored; at least 10 are needed");

        var unmeasured = gate.judge(Map.of(), Map.of(), 50);
        assertThat(unmeasured.promote()).isFalse();
        assertThat(unmeasured.reasons()).anyMatch(r -> r.contains("primary metric heldout_nll was not measured"));
    }

    @Test
    void higherIsBetterMetricsAndBadGuards() {
        PromotionGate em = new PromotionGate(Metric.EXACT_MATCH, 0.0, Map.of(), 1);
        assertThat(em.judge(Map.of("exact_match", 0.7), Map.of("exact_match", 0.6), 5).promote()).isTrue();
        assertThat(em.judge(Map.of("exact_match", 0.6), Map.of("exact_match", 0.6), 5).promote()).as("equal is not better").isFalse();
        assertThatThrownBy(() -> PromotionGate.parseGuards("exact_match")).hasMessageContaining("expected metric:tolerance");
        assertThatThrownBy(() -> PromotionGate.parseGuards("bleu:0.1")).hasMessageContaining("unknown metric 'bleu'");
    }
}
