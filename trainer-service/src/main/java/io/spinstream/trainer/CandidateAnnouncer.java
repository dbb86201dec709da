package io.spinstream.trainer;

import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.PartitionOffset;
import io.spinstream.schemas.Topics;
import io.spinstream.trainer.round.PartitionKey;
import io.spinstream.trainer.round.RoundListener;
import io.spinstream.trainer.round.RoundTrainer;
import org.apache.kafka.clients.producer.Producer;

import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;

/**
 * Announces every candidate on the checkpoints topic once its files are complete; a resumed round's
 * candidate again (its announcement may have been lost in the crash; the evaluator skips a repeat).
 */
final class CandidateAnnouncer implements RoundListener {
    private final Producer<byte[], byte[]> producer;
    private final Topics topics;
    private final Clock clock;

    CandidateAnnouncer(Producer<byte[], byte[]> producer, Topics topics, Clock clock) {
        this.producer = producer;
        this.topics = topics;
        this.clock = clock;
    }

    @Override
    public void onCandidate(RoundTrainer round, Candidate c) {
        announce(c);
    }

    @Override
    public void onResumed(RoundTrainer round, Candidate c) {
        announce(c);
    }

    private void announce(Candidate c) {
        CheckpointMetadata m = c.metadata();
        List<PartitionOffset> offsets = new ArrayList<>();
        PartitionKey.decode(m.offsets()).forEach((p, offset) -> offsets.add(PartitionOffset.newBuilder()
                .setTopic(p.topic()).setPartition(p.partition()).setOffset(offset).build()));
        CheckpointEvent event = CheckpointEvent.newBuilder().setCheckpointId(m.id()).setParentOpponentId(m.parentId())
                .setRound(m.round()).setStep(m.step()).setUri(c.directory().toUri().toString()).setSha256(m.sha256())
                .setTrainMetrics(new HashMap<>(m.metrics())).setConsumedOffsets(offsets).setEndOfRound(c.endOfRound())
                .setCreatedAt(clock.instant()).build();
        try {
            producer.send(topics.checkpoints().rawRecord(m.id(), event)).get();
        } catch (Exception e) {
            throw new IllegalStateException("cannot announce checkpoint " + m.id() + ": " + e, e);
        }
    }
}
