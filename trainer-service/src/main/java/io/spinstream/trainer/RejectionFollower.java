package io.spinstream.trainer;

import io.spinstream.runtime.kafka.KafkaSettings;
import io.spinstream.runtime.kafka.TopicFollower;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.Topic;
import io.spinstream.schemas.Verdict;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Follows the evaluations topic and counts, per baseline opponent, how many distinct candidates were
 * rejected: the trainer's rejection policy acts on that count.
 */
final class RejectionFollower implements AutoCloseable {
    private final Map<String, Set<String>> rejectedByBaseline = new ConcurrentHashMap<>();
    private final TopicFollower follower;

    RejectionFollower(KafkaSettings kafka, Topic<String, Evaluation> topic) {
        this.follower = new TopicFollower(kafka, topic.name(), r -> {
            Evaluation e = topic.deserializeValue(r.value());
            if (e.getVerdict() == Verdict.REJECT) {
                rejectedByBaseline.computeIfAbsent(e.getBaselineId(), k -> ConcurrentHashMap.newKeySet()).add(e.getCheckpointId());
            }
        }).start();
    }

    /** Distinct candidates rejected against {@code opponentId} so far. */
    int rejections(String opponentId) {
        return new HashSet<>(rejectedByBaseline.getOrDefault(opponentId, Set.of())).size();
    }

    @Override
    public void close() {
        follower.close();
    }
}
