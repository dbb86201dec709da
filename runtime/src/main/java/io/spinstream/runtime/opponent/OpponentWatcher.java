package io.spinstream.runtime.opponent;

import io.spinstream.runtime.kafka.KafkaSettings;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Topic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
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
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final AtomicReference<OpponentPromotion> current = new AtomicReference<>();
    private final Thread thread;
    private volatile boolean running = true;

    public OpponentWatcher(KafkaSettings kafka, Topic<String, OpponentPromotion> topic, String runId) {
        this.topic = topic;
        this.runId = runId;
        var props = kafka.readCommittedConsumer("unused");
        props.remove(org.apache.kafka.clients.consumer.ConsumerConfig.GROUP_ID_CONFIG);
        this.consumer = new KafkaConsumer<>(props);
        this.thread = new Thread(this::loop, "opponent-watcher");
        this.thread.setDaemon(true);
    }

    public OpponentWatcher start() {
        thread.start();
        return this;
    }

    private void loop() {
        try {
            List<TopicPartition> partitions = consumer.partitionsFor(topic.name(), Duration.ofSeconds(60)).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            while (running) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    accept(r);
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            log.error("the opponent watcher stopped: {}", e.toString(), e);
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    private void accept(ConsumerRecord<byte[], byte[]> r) {
        if (r.key() == null || !runId.equals(topic.deserializeKey(r.key()))) {
            return;
        }
        if (r.value() == null) {
            return; // a tombstone ends nothing here: the last promotion stays the opponent
        }
        try {
            OpponentPromotion p = topic.deserializeValue(r.value());
            OpponentPromotion before = current.getAndSet(p);
            if (before == null || !before.getCheckpointId().equals(p.getCheckpointId())) {
                log.info("opponent of run {} is {} (round {})", runId, p.getCheckpointId(), p.getRound());
                synchronized (this) {
                    notifyAll();
                }
            }
        } catch (RuntimeException e) {
            log.error("unreadable opponent record at offset {}: {}", r.offset(), e.toString());
        }
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
        running = false;
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
