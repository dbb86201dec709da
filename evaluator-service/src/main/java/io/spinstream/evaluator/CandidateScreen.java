package io.spinstream.evaluator;

import ai.djl.ndarray.NDManager;
import io.spinstream.inference.LoadedModel;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.checkpoint.LoadedCheckpoint;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Verdict;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * What a checkpoint event must pass before it is scored: not evaluated by these suites already (a
 * repeated event), not refused by another suite set, an opponent in force, not the opponent itself, trained from the opponent in force
 * (else stale), and files that match the event's sha256 (else corrupt).
 */
final class CandidateScreen {

    public sealed interface Outcome {
        /** Evaluated by these suites before: nothing is written again. */
        record Skip(String reason) implements Outcome {
        }

        /** Refused by another suite set: nothing is written. */
        record Settled(String reason) implements Outcome {
        }

        /** A verdict without scoring, against {@code baselineId} (empty when there is no opponent). */
        record Refuse(Verdict verdict, String baselineId, String reason) implements Outcome {
        }

        /** To be scored against {@code opponent}. */
        record Score(OpponentPromotion opponent) implements Outcome {
        }
    }

    private final String runId;
    private final String suiteKey;

    public CandidateScreen(String runId, String suiteKey) {
        this.runId = runId;
        this.suiteKey = suiteKey;
    }

    public Outcome screen(CheckpointEvent event, Optional<OpponentPromotion> opponent, List<Evaluation> history) {
        String id = event.getCheckpointId();
        if (history.stream().anyMatch(e -> e.getCheckpointId().equals(id) && e.getSuite().equals(suiteKey))) {
            return new Outcome.Skip("checkpoint " + id + " was evaluated by suites " + suiteKey + " already");
        }
        // Refused by another suite set: it can never be promoted, so it is not scored (and the trainer's
        // retention may already have deleted its files).
        Optional<Evaluation> refused = history.stream().filter(e -> e.getCheckpointId().equals(id)
                && (e.getVerdict() == Verdict.REJECT || e.getVerdict() == Verdict.INVALID)).findFirst();
        if (refused.isPresent()) {
            return new Outcome.Settled("checkpoint " + id + " was refused by suites " + refused.get().getSuite() + " already");
        }
        if (opponent.isEmpty()) {
            return new Outcome.Refuse(Verdict.INVALID, "", "no opponent has been promoted for run " + runId);
        }
        String current = opponent.get().getCheckpointId();
        if (current.equals(id)) {
            return new Outcome.Refuse(Verdict.REJECT, current, "checkpoint " + id + " is the opponent already");
        }
        if (!current.equals(event.getParentOpponentId())) {
            return new Outcome.Refuse(Verdict.REJECT, current, "stale: trained from " + event.getParentOpponentId()
                    + ", but the opponent is now " + current);
        }
        return new Outcome.Score(opponent.get());
    }

    /** Loads the candidate the event names; refused when its files do not match the event's sha256. */
    public static LoadedCheckpoint load(CheckpointEvent event, NDManager manager, CheckpointLocation location,
                                        io.spinstream.model.Precision precision) {
        // A LoRA candidate comes merged into its base (the opponent it was trained from).
        Path dir = location.resolve(event.getUri());
        return LoadedModel.verified(CheckpointStore.load(dir, manager, precision), new LoadedModel.Expected(event.getSha256(),
                "the checkpoint event of " + event.getCheckpointId()), dir);
    }
}
