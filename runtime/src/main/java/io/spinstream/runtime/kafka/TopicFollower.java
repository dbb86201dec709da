package io.spinstream.runtime.kafka;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Reads a whole topic from its beginning and then follows it, on a daemon thread of its own, handing
 * every committed record to a handler. No consumer group: every instance sees everything (the opponent
 * topic, the evaluations).
 */
public final class TopicFollower implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TopicFollower.class);

    private final String topic;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final Consumer<ConsumerRecord<byte[], byte[]>> handler;
    private final Thread thread;
    private volatile boolean running = true;
    private final Map<TopicPartition, Long> positions = new HashMap<>(); // guarded by itself; read up to here

    public TopicFollower(KafkaSettings kafka, String topic, Consumer<ConsumerRecord<byte[], byte[]>> handler) {
        this.topic = topic;
        this.handler = handler;
        this.consumer = new KafkaConsumer<>(kafka.groupLessConsumer());
        this.thread = new Thread(this::loop, "follow-" + topic);
        this.thread.setDaemon(true);
    }

    public TopicFollower start() {
        thread.start();
        return this;
    }

    private void loop() {
        try {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(60)).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            while (running) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    try {
                        handler.accept(r);
                    } catch (RuntimeException e) {
                        log.warn("unreadable record on {} at offset {}: {}", topic, r.offset(), e.toString());
                    }
                }
                synchronized (positions) {
                    partitions.forEach(tp -> positions.put(tp, consumer.position(tp)));
                    positions.notifyAll();
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            log.error("following {} stopped: {}", topic, e.toString(), e);
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    /** Whether the following thread still runs (false once it died of an error, or was closed). */
    public boolean isAlive() {
        return thread.isAlive();
    }

    /** The topic followed. */
    public String topic() {
        return topic;
    }

    /**
     * Waits until every record before {@code ends} (for example a consumer's {@code endOffsets} of the
     * topic) has been handed to the handler; false when that takes longer than {@code timeout}.
     */
    public boolean awaitPositions(Map<TopicPartition, Long> ends, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (positions) {
            while (!reached(ends)) {
                long left = (deadline - System.nanoTime()) / 1_000_000;
                if (left <= 0 || !thread.isAlive()) {
                    return reached(ends);
                }
                positions.wait(Math.min(left, 200));
            }
            return true;
        }
    }

    private boolean reached(Map<TopicPartition, Long> ends) {
        return ends.entrySet().stream().allMatch(e -> e.getValue() <= positions.getOrDefault(e.getKey(), -1L));
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
