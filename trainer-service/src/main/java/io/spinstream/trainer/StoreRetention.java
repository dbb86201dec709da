package io.spinstream.trainer;

import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointRetention;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.runtime.evaluation.EvaluationHistory;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.Verdict;
import io.spinstream.trainer.round.RoundListener;
import io.spinstream.trainer.round.RoundTrainer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Keeps the checkpoint store bounded (the trainer is its only writer): after every candidate, and when a
 * round resumes, it applies {@link CheckpointRetention} with the verdicts read so far, and removes the
 * temporary folders that crashed writes left (those untouched for a minute).
 */
final class StoreRetention implements RoundListener {
    private static final Logger log = LoggerFactory.getLogger(StoreRetention.class);
    private static final Duration ABANDONED = Duration.ofMinutes(1);

    private final CheckpointStore store;
    private final CheckpointRetention retention;
    private final EvaluationHistory evaluations;

    StoreRetention(CheckpointStore store, CheckpointRetention retention, EvaluationHistory evaluations) {
        this.store = store;
        this.retention = retention;
        this.evaluations = evaluations;
    }

    @Override
    public void onCandidate(RoundTrainer round, Candidate candidate) {
        apply(round.opponentId());
    }

    @Override
    public void onResumed(RoundTrainer round, Candidate candidate) {
        apply(round.opponentId());
    }

    void apply(String opponentId) {
        int temporary = store.removeTemporaryFolders(ABANDONED);
        Set<String> refused = evaluations.all().stream()
                .filter(e -> e.getVerdict() == Verdict.REJECT || e.getVerdict() == Verdict.INVALID)
                .map(Evaluation::getCheckpointId).collect(Collectors.toSet());
        List<CheckpointMetadata> all = store.list().stream().flatMap(id -> store.metadata(id).stream()).toList();
        Set<String> withState = all.stream().filter(m -> m.trainingStateSha256() != null).map(CheckpointMetadata::id)
                .collect(Collectors.toSet());
        int deleted = 0;
        int dropped = 0;
        long freed = 0;
        for (CheckpointRetention.Decision d : retention.plan(all, opponentId, refused)) {
            switch (d) {
                case CheckpointRetention.Decision.Delete del -> {
                    freed += store.sizeOf(del.id());
                    store.delete(del.id());
                    deleted++;
                }
                case CheckpointRetention.Decision.KeepWeights k -> {
                    if (withState.contains(k.id())) {
                        long before = store.sizeOf(k.id());
                        store.dropTrainingState(k.id());
                        freed += before - store.sizeOf(k.id());
                        dropped++;
                    }
                }
                case CheckpointRetention.Decision.Keep k -> {
                }
            }
        }
        if (deleted + dropped + temporary > 0) {
            log.info("checkpoint store: {} deleted, optimiser state dropped from {}, {} unfinished folders removed,"
                    + " {} MB freed", deleted, dropped, temporary, String.format("%.1f", freed / 1e6));
        }
    }
}
