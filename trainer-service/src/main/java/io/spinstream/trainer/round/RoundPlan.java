package io.spinstream.trainer.round;

import ai.djl.ndarray.NDManager;
import io.spinstream.inference.LoadedModel;
import io.spinstream.model.Precision;
import io.spinstream.model.checkpoint.CheckpointException;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.checkpoint.LoadedCheckpoint;

import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.Optional;

/**
 * Where a round starts: θ from the round's newest candidate in the store (a restart resumes it, with its
 * optimiser state and offsets) or else from the opponent; where the round's pairs begin (where the
 * opponent's own training ended, or the previous opponent's when round t−1's pairs are trained too).
 *
 * @param resume             the candidate to resume, if the round has one
 * @param roundStart         offsets at which the round's pairs begin (empty: the beginning)
 * @param previousOpponentId the opponent that wrote round t−1's pairs, when they are trained too
 */
public record RoundPlan(OpponentRef opponent, Optional<CheckpointMetadata> resume, Map<PartitionKey, Long> roundStart,
                        String previousOpponentId) {

    /** The opponent a round trains against: the promoted checkpoint, its folder and its sha256. */
    public record OpponentRef(String id, int round, Path directory, String sha256) {
        /** Its metadata as written (offsets, parent); empty for a folder without one. */
        public Optional<CheckpointMetadata> metadata() {
            return new CheckpointStore(directory.toAbsolutePath().getParent()).metadata(directory.getFileName().toString());
        }
    }

    public static RoundPlan of(CheckpointStore store, OpponentRef opponent, boolean includePreviousRound) {
        Optional<CheckpointMetadata> resume = store.list().stream().flatMap(id -> store.metadata(id).stream())
                .filter(m -> opponent.id().equals(m.parentId()))
                .max(Comparator.comparingLong(CheckpointMetadata::step));
        Optional<CheckpointMetadata> own = opponent.metadata();
        Map<PartitionKey, Long> start = PartitionKey.decode(own.map(CheckpointMetadata::offsets).orElse(Map.of()));
        String previous = null;
        if (includePreviousRound) {
            previous = own.map(CheckpointMetadata::parentId).orElse(null);
            if (previous != null) {
                start = PartitionKey.decode(store.metadata(previous).map(CheckpointMetadata::offsets).orElse(Map.of()));
            }
        }
        return new RoundPlan(opponent, resume, start, previous);
    }

    /**
     * Opens θ: the resumed candidate, or the opponent, refused when its sha256 differs from the promotion's
     * (no round trains from a wrong model).
     */
    public LoadedCheckpoint openTheta(CheckpointStore store, NDManager manager, Precision precision) {
        if (resume.isPresent()) {
            CheckpointMetadata r = resume.get();
            if (r.isAdapter() && !(opponent.id().equals(r.baseId()) && opponent.sha256().equalsIgnoreCase(r.baseSha256()))) {
                throw new CheckpointException("candidate " + r.id() + " is an adapter over " + r.baseId() + ", not over opponent "
                        + opponent.id() + " with sha256 " + opponent.sha256());
            }
            // A LoRA candidate comes back as its adapter over the merged opponent, to be trained on.
            return r.isAdapter() ? CheckpointStore.loadForTraining(store.directoryOf(r.id()), manager, precision)
                    : store.load(r.id(), manager);
        }
        return LoadedModel.verified(CheckpointStore.load(opponent.directory(), manager, precision),
                new LoadedModel.Expected(opponent.sha256(), "the promotion of " + opponent.id()), opponent.directory());
    }

    /** Where reading starts: the resumed candidate's offsets, else the round's start. */
    public Map<PartitionKey, Long> readFrom() {
        return resume.map(m -> PartitionKey.decode(m.offsets())).orElse(roundStart);
    }
}
