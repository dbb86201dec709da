package io.spinstream.runtime.evaluation;

import io.spinstream.runtime.kafka.KafkaSettings;
import io.spinstream.runtime.kafka.TopicFollower;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.Topic;
import io.spinstream.schemas.Verdict;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.common.TopicPartition;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Every evaluation of the run, kept by following the evaluations topic (read once from the beginning,
 * then followed) instead of re-reading the topic for every question. The trainer counts rejections in
 * it; the evaluator looks up duplicates and the other suites' verdicts.
 */
public final class EvaluationHistory implements AutoCloseable {
    private final List<Evaluation> evaluations = new ArrayList<>(); // guarded by itself
    private final TopicFollower follower;

    public EvaluationHistory(KafkaSettings kafka, Topic<String, Evaluation> topic) {
        this.follower = new TopicFollower(kafka, topic.name(), r -> add(topic.deserializeValue(r.value()))).start();
    }

    private void add(Evaluation e) {
        synchronized (evaluations) {
            evaluations.add(e);
        }
    }

    /** Whether it still follows the evaluations topic. */
    public boolean isAlive() {
        return follower.isAlive();
    }

    /** A snapshot of every evaluation read so far, in topic order per partition. */
    public List<Evaluation> all() {
        synchronized (evaluations) {
            return List.copyOf(evaluations);
        }
    }

    /**
     * Distinct candidates of round {@code round} rejected against its opponent {@code baselineId} so far. A
     * rejection of an older candidate (stale: trained from an earlier opponent, or the opponent itself
     * announced again) is not the round's and does not count against it.
     */
    public int rejections(String baselineId, int round) {
        synchronized (evaluations) { // asked on every poll of the trainer: no copy of the history
            return rejections(evaluations, baselineId, round);
        }
    }

    /** {@link #rejections(String, int)} over a list of evaluations. */
    public static int rejections(Collection<Evaluation> evaluations, String baselineId, int round) {
        return evaluations.stream().filter(e -> e.getVerdict() == Verdict.REJECT && e.getBaselineId().equals(baselineId)
                        && e.getRound() == round)
                .map(Evaluation::getCheckpointId).collect(Collectors.toSet()).size();
    }

    /**
     * Waits until everything committed to the topic when this is called has been read (end offsets taken
     * with {@code consumer}, read_committed: the last stable offsets), so the history answers for it.
     */
    public void syncWith(Consumer<?, ?> consumer, Duration timeout) throws InterruptedException {
        follower.syncWith(consumer, timeout);
    }

    /** As {@link #syncWith(Consumer, Duration)}, and past this instance's own last transaction ({@code written}). */
    public void syncWith(Consumer<?, ?> consumer, Duration timeout, Map<TopicPartition, Long> written) throws InterruptedException {
        follower.syncWith(consumer, timeout, written);
    }

    @Override
    public void close() {
        follower.close();
    }
}
