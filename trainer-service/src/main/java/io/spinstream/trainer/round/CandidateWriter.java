package io.spinstream.trainer.round;

import ai.djl.ndarray.NDManager;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.checkpoint.LoadedCheckpoint;
import io.spinstream.model.train.TrainStep;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * Writes a round's candidates: weights, optimiser state and the consumed offsets in one atomic folder
 * named {@code <runId>-r<round>-s<step>}. A candidate that already exists (written before a restart) is
 * not written again.
 */
final class CandidateWriter {
    private static final Logger log = LoggerFactory.getLogger(CandidateWriter.class);

    private final CheckpointStore store;
    private final String runId;

    CandidateWriter(CheckpointStore store, String runId) {
        this.store = store;
        this.runId = runId;
    }

    Optional<RoundListener.Candidate> write(LoadedCheckpoint theta, TrainStep step, RoundPlan.OpponentRef opponent, int round, long steps,
                                            Map<String, Double> metrics, Map<PartitionKey, Long> offsets, boolean endOfRound) {
        String id = runId + "-r" + round + "-s" + steps;
        if (store.metadata(id).isPresent()) {
            return Optional.empty();
        }
        long t0 = System.nanoTime();
        CheckpointMetadata saved;
        try (NDManager scope = theta.model().manager().newSubManager()) {
            CheckpointMetadata m = CheckpointMetadata.of(id, opponent.id(), round, steps, metrics, PartitionKey.encode(offsets));
            // Under LoRA the candidate is its adapter alone, over the opponent it was trained from.
            saved = store.save(theta.model(), theta.tokenizerJson(),
                    theta.model().adapter() == null ? m : m.adapterOver(opponent.id(), opponent.sha256()), step.state(scope));
        }
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        log.info("checkpoint {} written in {} ms ({} pairs trained{})", id, took.toMillis(),
                metrics.get("pairs_trained").longValue(), endOfRound ? ", end of the round's pass" : "");
        return Optional.of(new RoundListener.Candidate(saved, store.directoryOf(id), endOfRound, took));
    }
}
