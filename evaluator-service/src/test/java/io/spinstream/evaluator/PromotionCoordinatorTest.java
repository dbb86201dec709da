package io.spinstream.evaluator;

import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Verdict;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The multi-suite promotion protocol as logic over the evaluation history, no broker. */
class PromotionCoordinatorTest {

    static Evaluation evaluation(String id, String suite, Verdict verdict) {
        return Evaluation.newBuilder().setCheckpointId(id).setBaselineId("base").setRound(0).setSuite(suite)
                .setMetrics(Map.of()).setBaselineMetrics(Map.of()).setHeldOutPrompts(10).setVerdict(verdict)
                .setReasons(List.of()).setCreatedAt(Instant.EPOCH).build();
    }

    static CheckpointEvent event(String id) {
        return CheckpointEvent.newBuilder().setCheckpointId(id).setParentOpponentId("base").setRound(0).setStep(1)
                .setUri("file:/x").setSha256("00").setTrainMetrics(Map.of()).setConsumedOffsets(List.of())
                .setEndOfRound(true).setCreatedAt(Instant.EPOCH).build();
    }

    static OpponentPromotion opponent(String id) {
        return OpponentPromotion.newBuilder().setRunId("r").setCheckpointId(id).setRound(0).setUri("file:/b").setSha256("00")
                .setCreatedAt(Instant.EPOCH).build();
    }

    static PromotionCoordinator.Waiting waiting(String id) {
        return new PromotionCoordinator.Waiting(event(id), opponent("base"), evaluation(id, "nll", Verdict.PROMOTE));
    }

    @Test
    void aSingleEvaluatorPromotesWhatPassesItsSuites() {
        PromotionCoordinator c = new PromotionCoordinator(List.of("nll", "exact_match"), List.of("nll", "exact_match"));
        assertThat(c.isPromoter()).isTrue();
        assertThat(c.passed("c1", List.of())).isEqualTo(new PromotionCoordinator.Pass(true, null));
        assertThat(new PromotionCoordinator(List.of("nll"), List.of()).passed("c1", List.of()).promoteNow()).isTrue();
    }

    @Test
    void theEvaluatorOfTheLastRequiredSuitePromotesOnceTheOthersPassed() {
        PromotionCoordinator nll = new PromotionCoordinator(List.of("nll"), List.of("exact_match", "nll"));
        PromotionCoordinator em = new PromotionCoordinator(List.of("exact_match"), List.of("exact_match", "nll"));
        assertThat(nll.promoterSuite()).isEqualTo("nll");
        assertThat(nll.isPromoter()).isTrue();
        assertThat(em.isPromoter()).isFalse();
        assertThat(nll.mayWait()).as("promotes, and exact_match runs elsewhere").isTrue();
        assertThat(em.mayWait()).isFalse();
        assertThat(new PromotionCoordinator(List.of("nll", "exact_match"), List.of("nll", "exact_match")).mayWait()).isFalse();

        // exact_match passed first: it does not promote; nll passes later and promotes at once.
        List<Evaluation> history = List.of(evaluation("c1", "exact_match", Verdict.PROMOTE));
        assertThat(em.passed("c1", List.of()).promoteNow()).isFalse();
        assertThat(em.passed("c1", List.of()).reason()).contains("waits for the required suites [nll]");
        assertThat(nll.passed("c1", history).promoteNow()).isTrue();

        // nll passed first: c2 waits until exact_match's passing evaluation is in the history.
        PromotionCoordinator.Pass first = nll.passed("c2", List.of());
        assertThat(first.promoteNow()).isFalse();
        assertThat(first.reason()).contains("[exact_match]");
        nll.await(waiting("c2"));
        assertThat(nll.due(List.of(), "base")).isEmpty();
        assertThat(nll.due(List.of(evaluation("c2", "exact_match", Verdict.PROMOTE)), "base"))
                .extracting(w -> w.event().getCheckpointId()).containsExactly("c2");
        nll.promoted("c2");
        assertThat(nll.waitingCount()).isZero();
        // the non-promoter never keeps a waiting candidate
        em.await(waiting("c3"));
        assertThat(em.waitingCount()).isZero();
    }

    @Test
    void aWaitingCandidateIsDroppedWhenAnotherSuiteRefusesItOrTheOpponentChanges() {
        PromotionCoordinator nll = new PromotionCoordinator(List.of("nll"), List.of("exact_match", "nll"));
        nll.await(waiting("c1"));
        nll.await(waiting("c2"));
        assertThat(nll.due(List.of(evaluation("c1", "exact_match", Verdict.REJECT)), "base")).isEmpty();
        assertThat(nll.waitingCount()).isEqualTo(1);
        assertThat(nll.due(List.of(evaluation("c2", "exact_match", Verdict.PROMOTE)), "c9")).as("opponent changed").isEmpty();
        assertThat(nll.waitingCount()).isZero();
    }

    @Test
    void twoCandidatesQueuedBehindOneOpponentGiveOnePromotion() {
        PromotionCoordinator nll = new PromotionCoordinator(List.of("nll"), List.of("exact_match", "nll"));
        nll.await(waiting("c1"));
        nll.await(waiting("c2"));
        List<Evaluation> bothPassed = List.of(evaluation("c1", "exact_match", Verdict.PROMOTE),
                evaluation("c2", "exact_match", Verdict.PROMOTE));
        assertThat(nll.due(bothPassed, "base")).as("the first to wait, alone")
                .extracting(w -> w.event().getCheckpointId()).containsExactly("c1");
        nll.promoted("c1");
        // Once c1 is the opponent, c2 (trained from base) is stale and dropped.
        assertThat(nll.due(bothPassed, "c1")).isEmpty();
        assertThat(nll.waitingCount()).isZero();
    }
}
