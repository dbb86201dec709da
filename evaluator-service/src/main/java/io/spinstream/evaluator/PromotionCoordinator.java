package io.spinstream.evaluator;

import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Verdict;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Who promotes when evaluators split the required suites between them, as pure logic over the history
 * of evaluations. Exactly one evaluator promotes, so a candidate never becomes the opponent twice: the
 * one running the alphabetically last required suite. It promotes when its own suites pass last, or,
 * when they passed first, once the other suites' passing evaluations arrive (the candidate waits).
 */
final class PromotionCoordinator {
    private static final Logger log = LoggerFactory.getLogger(PromotionCoordinator.class);

    /** A candidate that passed this evaluator's suites and waits for the others. */
    public record Waiting(CheckpointEvent event, OpponentPromotion opponent, Evaluation evaluation) {
    }

    /** What a passing candidate leads to: promote now, or why not (yet). */
    public record Pass(boolean promoteNow, String reason) {
    }

    private final List<String> suites;
    private final List<String> required;
    private final Map<String, Waiting> waiting = new LinkedHashMap<>();

    public PromotionCoordinator(List<String> suites, List<String> required) {
        this.suites = List.copyOf(suites);
        this.required = List.copyOf(required);
    }

    public String promoterSuite() {
        return required.stream().max(String::compareTo).orElse("");
    }

    public boolean isPromoter() {
        return required.isEmpty() || suites.contains(promoterSuite());
    }

    /** Required suites not run here that have not passed {@code checkpointId} yet. */
    public Set<String> missingSuites(String checkpointId, List<Evaluation> history) {
        Set<String> missing = new HashSet<>(required);
        missing.removeAll(suites);
        for (Evaluation e : history) {
            if (e.getCheckpointId().equals(checkpointId) && e.getVerdict() == Verdict.PROMOTE) {
                missing.removeAll(List.of(e.getSuite().split("\\+")));
            }
        }
        return missing;
    }

    /** The candidate passed this evaluator's suites; {@code reason} is null when it is promoted now. */
    public Pass passed(String checkpointId, List<Evaluation> history) {
        Set<String> missing = missingSuites(checkpointId, history);
        if (!missing.isEmpty()) {
            return new Pass(false, "passes its suites; promotion waits for the required suites " + missing);
        }
        if (!isPromoter()) {
            return new Pass(false, "every required suite passed; the evaluator of suite " + promoterSuite() + " promotes");
        }
        return new Pass(true, null);
    }

    /** Whether a candidate can ever wait here: this evaluator promotes, and some required suite runs elsewhere. */
    public boolean mayWait() {
        return isPromoter() && !missingSuites("", List.of()).isEmpty();
    }

    /** Remembers a passing candidate this evaluator will promote once the other suites pass it. */
    public void await(Waiting w) {
        if (isPromoter()) {
            waiting.put(w.event().getCheckpointId(), w);
        }
    }

    /**
     * The waiting candidates to promote now (every required suite passed), at most one per opponent (the
     * first to wait: the others are dropped as stale once it is promoted); those another suite refused or
     * whose opponent is no longer in force are dropped. A returned candidate stays until {@link #promoted}.
     */
    public List<Waiting> due(List<Evaluation> history, String opponentId) {
        List<Waiting> due = new ArrayList<>();
        Set<String> opponents = new HashSet<>(); // one promotion per opponent: the first candidate to pass
        for (var it = waiting.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            boolean refused = history.stream().anyMatch(h -> h.getCheckpointId().equals(e.getKey()) && h.getVerdict() != Verdict.PROMOTE);
            boolean stale = opponentId != null && !opponentId.equals(e.getValue().opponent().getCheckpointId());
            if (refused || stale) {
                log.info("{} no longer waits for promotion: {}", e.getKey(), refused ? "another suite refused it" : "the opponent changed");
                it.remove();
            } else if (missingSuites(e.getKey(), history).isEmpty()
                    && opponents.add(e.getValue().opponent().getCheckpointId())) {
                due.add(e.getValue());
            }
        }
        return due;
    }

    public void promoted(String checkpointId) {
        waiting.remove(checkpointId);
    }

    public int waitingCount() {
        return waiting.size();
    }
}
