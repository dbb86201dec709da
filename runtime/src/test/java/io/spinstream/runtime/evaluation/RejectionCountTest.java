package io.spinstream.runtime.evaluation;

import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.Verdict;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** What counts against a round: its own candidates rejected against its opponent, each once. */
class RejectionCountTest {

    private static Evaluation evaluation(String id, String baseline, int round, Verdict verdict, String suite) {
        return Evaluation.newBuilder().setCheckpointId(id).setBaselineId(baseline).setRound(round).setSuite(suite)
                .setMetrics(Map.of()).setBaselineMetrics(Map.of()).setHeldOutPrompts(10).setVerdict(verdict)
                .setReasons(List.of()).setCreatedAt(Instant.EPOCH).build();
    }

    @Test
    void aStaleRejectionDoesNotCountAgainstTheCurrentRound() {
        List<Evaluation> history = List.of(
                evaluation("run-r1-s10", "run-r0-s50", 1, Verdict.REJECT, "nll"),
                evaluation("run-r1-s10", "run-r0-s50", 1, Verdict.REJECT, "exact_match"), // the same candidate, another suite
                // Round 0's late candidate, refused as stale against round 1's opponent: not round 1's rejection.
                evaluation("run-r0-s60", "run-r0-s50", 0, Verdict.REJECT, "nll"),
                // The opponent announced again, refused as the opponent already.
                evaluation("run-r0-s50", "run-r0-s50", 0, Verdict.REJECT, "nll"),
                evaluation("run-r1-s20", "run-r0-s50", 1, Verdict.PROMOTE, "nll"),
                evaluation("run-r1-s30", "other", 1, Verdict.REJECT, "nll"));
        assertThat(EvaluationHistory.rejections(history, "run-r0-s50", 1)).isEqualTo(1);
        assertThat(EvaluationHistory.rejections(history, "run-r0-s50", 0)).isEqualTo(2);
    }
}
