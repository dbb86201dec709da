package io.spinstream.runtime.opponent;

import io.spinstream.runtime.kafka.KafkaSettings;
import io.spinstream.runtime.kafka.TopicFollower;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Topic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Follows the compacted opponent topic: reads it from the beginning (committed records only) and keeps
 * the latest promotion of one run. No consumer group: every instance reads the whole topic.
 */
public final class OpponentWatcher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(OpponentWatcher.class);

    private final Topic<String, OpponentPromotion> topic;
    private final String runId;
    private final AtomicReference<OpponentPromotion> current = new AtomicReference<>();
    private final TopicFollower follower;

    public OpponentWatcher(KafkaSettings kafka, Topic<String, OpponentPromotion> topic, String runId) {
        this.topic = topic;
        this.runId = runId;
        this.follower = new TopicFollower(kafka, topic.name(), this::accept);
    }

    public OpponentWatcher start() {
        follower.start();
        return this;
    }

    private void accept(ConsumerRecord<byte[], byte[]> r) {
        if (r.key() == null || !runId.equals(topic.deserializeKey(r.key()))) {
            return;
        }
        if (r.value() == null) {
            return; // a tombstone ends nothing here: the last promotion stays the opponent
        }
        OpponentPromotion p = topic.deserializeValue(r.value());
        OpponentPromotion before = current.getAndSet(p);
        if (before == null || !before.getCheckpointId().equals(p.getCheckpointId())) {
            log.info("opponent of run {} is {} (round {})", runId, p.getCheckpointId(), p.getRound());
            synchronized (this) {
                notifyAll();
            }
        }
    }

    /**
     * Waits until every promotion committed when this is called has been read, and past {@code written}
     * (this instance's own last transaction), so {@link #current()} is not behind a promotion just written.
     */
    public void syncWith(org.apache.kafka.clients.consumer.Consumer<?, ?> consumer, java.time.Duration timeout,
                         java.util.Map<org.apache.kafka.common.TopicPartition, Long> written) throws InterruptedException {
        follower.syncWith(consumer, timeout, written);
    }

    /** Whether it still follows the opponent topic. */
    public boolean isAlive() {
        return follower.isAlive();
    }

    public Optional<OpponentPromotion> current() {
        return Optional.ofNullable(current.get());
    }

    /** Waits up to {@code millis} for a promotion other than {@code knownCheckpointId}. */
    public Optional<OpponentPromotion> awaitOther(String knownCheckpointId, long millis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        synchronized (this) {
            while (true) {
                OpponentPromotion p = current.get();
                if (p != null && !p.getCheckpointId().equals(knownCheckpointId)) {
                    return Optional.of(p);
                }
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0) {
                    return Optional.empty();
                }
                wait(left);
            }
        }
    }

    @Override
    public void close() {
        follower.close();
    }
}
