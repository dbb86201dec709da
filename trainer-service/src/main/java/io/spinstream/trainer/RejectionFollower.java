package io.spinstream.trainer;

import io.spinstream.runtime.kafka.KafkaSettings;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.Topic;
import io.spinstream.schemas.Verdict;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Follows the evaluations topic and counts, per baseline opponent, how many distinct candidates were
 * rejected: the trainer's rejection policy acts on that count.
 */
final class RejectionFollower implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RejectionFollower.class);

    private final Topic<String, Evaluation> topic;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final Map<String, Set<String>> rejectedByBaseline = new ConcurrentHashMap<>();
    private final Thread thread;
    private volatile boolean running = true;

    RejectionFollower(KafkaSettings kafka, Topic<String, Evaluation> topic) {
        this.topic = topic;
        Map<String, Object> props = kafka.readCommittedConsumer("unused");
        props.remove(ConsumerConfig.GROUP_ID_CONFIG);
        this.consumer = new KafkaConsumer<>(props);
        this.thread = new Thread(this::loop, "rejection-follower");
        thread.setDaemon(true);
        thread.start();
    }

    private void loop() {
        try {
            List<TopicPartition> partitions = consumer.partitionsFor(topic.name(), Duration.ofSeconds(60)).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            while (running) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    try {
                        Evaluation e = topic.deserializeValue(r.value());
                        if (e.getVerdict() == Verdict.REJECT) {
                            rejectedByBaseline.computeIfAbsent(e.getBaselineId(), k -> ConcurrentHashMap.newKeySet())
                                    .add(e.getCheckpointId());
                        }
                    } catch (RuntimeException ex) {
                        log.warn("unreadable evaluation at offset {}: {}", r.offset(), ex.toString());
                    }
                }
            }
        } catch (WakeupException e) {
            // closing
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    /** Distinct candidates rejected against {@code opponentId} so far. */
    int rejections(String opponentId) {
        return new HashSet<>(rejectedByBaseline.getOrDefault(opponentId, Set.of())).size();
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
