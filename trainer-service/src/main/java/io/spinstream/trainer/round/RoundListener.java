package io.spinstream.trainer.round;

import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.train.StepResult;

import java.nio.file.Path;
import java.time.Duration;

/**
 * Observes a {@link RoundTrainer}: what writes and announces candidates, metrics and the progress log
 * are listeners. They observe; the trainer's state lives in the trainer.
 */
public interface RoundListener {

    /** A candidate written to the store (complete, renamed into place). */
    record Candidate(CheckpointMetadata metadata, Path directory, boolean endOfRound, Duration writeTime) {
    }

    default void onIntake(Intake intake) {
    }

    /** One optimiser step over {@code pairs} pairs, which took {@code compute} (model compute, assembly included). */
    default void onStep(RoundTrainer round, StepResult result, int pairs, Duration compute) {
    }

    default void onCandidate(RoundTrainer round, Candidate candidate) {
    }

    /** The round resumed from {@code candidate} after a restart (its announcement may have been lost). */
    default void onResumed(RoundTrainer round, Candidate candidate) {
    }

    default void onRejections(RoundTrainer round, int newRejections) {
    }

    default void onRollback(RoundTrainer round) {
    }

    default void onStateChange(RoundTrainer round, RoundTrainer.State from, RoundTrainer.State to, String reason) {
    }
}
