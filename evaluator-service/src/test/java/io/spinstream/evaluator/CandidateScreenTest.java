package io.spinstream.evaluator;

import io.spinstream.schemas.Verdict;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;

import static io.spinstream.evaluator.PromotionCoordinatorTest.evaluation;
import static io.spinstream.evaluator.PromotionCoordinatorTest.event;
import static io.spinstream.evaluator.PromotionCoordinatorTest.opponent;
import static org.assertj.core.api.Assertions.assertThat;

class CandidateScreenTest {
    final CandidateScreen screen = new CandidateScreen("run", "nll+exact_match");

    @Test
    void aCandidateOfTheOpponentInForceIsScored() {
        assertThat(screen.screen(event("c1"), Optional.of(opponent("base")), List.of()))
                .isEqualTo(new CandidateScreen.Outcome.Score(opponent("base")));
    }

    @Test
    void repeatedStaleAndOpponentEventsAreNotScored() {
        assertThat(screen.screen(event("c1"), Optional.of(opponent("base")), List.of(evaluation("c1", "nll+exact_match", Verdict.REJECT))))
                .isInstanceOf(CandidateScreen.Outcome.Skip.class);
        assertThat(screen.screen(event("c1"), Optional.of(opponent("base")), List.of(evaluation("c1", "nll", Verdict.PROMOTE))))
                .as("another suite set's evaluation is not a repeat").isInstanceOf(CandidateScreen.Outcome.Score.class);
        assertThat(screen.screen(event("c1"), Optional.of(opponent("base")), List.of(evaluation("c1", "nll", Verdict.REJECT))))
                .as("refused by another suite set: never promoted, not scored (its files may be gone)")
                .isEqualTo(new CandidateScreen.Outcome.Settled("checkpoint c1 was refused by suites nll already"));
        assertThat(screen.screen(event("c1"), Optional.empty(), List.of()))
                .isEqualTo(new CandidateScreen.Outcome.Refuse(Verdict.INVALID, "", "no opponent has been promoted for run run"));
        assertThat(screen.screen(event("c1"), Optional.of(opponent("c1")), List.of())).isEqualTo(
                new CandidateScreen.Outcome.Refuse(Verdict.REJECT, "c1", "checkpoint c1 is the opponent already"));
        assertThat(screen.screen(event("c1"), Optional.of(opponent("c0")), List.of())).isEqualTo(
                new CandidateScreen.Outcome.Refuse(Verdict.REJECT, "c0", "stale: trained from base, but the opponent is now c0"));
    }
}
