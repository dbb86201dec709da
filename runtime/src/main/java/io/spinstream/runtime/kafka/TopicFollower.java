package io.spinstream.runtime.kafka;

import io.spinstream.runtime.Backoff;
import io.spinstream.runtime.FaultKind;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
            Backoff backoff = Backoff.standard();
            while (running) {
                ConsumerRecords<byte[], byte[]> polled = consumer.poll(Duration.ofMillis(200));
                if (!handle(polled)) {
                    backoff.pause(); // the partitions that failed are rewound to the record that failed
                    continue;
                }
                backoff.reset();
                synchronized (positions) {
                    partitions.forEach(tp -> positions.put(tp, consumer.position(tp)));
                    positions.notifyAll();
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            log.error("following {} stopped: {}", topic, e.toString(), e);
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    /**
     * Hands the batch to the handler in order, partition by partition. A record that fails for a transient
     * reason (the registry cannot be asked) is not skipped: its partition is rewound to it and false is
     * returned. A record that can never be read (not in the wire format, an unknown schema id) is logged
     * and passed.
     */
    private boolean handle(ConsumerRecords<byte[], byte[]> polled) {
        boolean complete = true;
        for (TopicPartition tp : polled.partitions()) {
            for (ConsumerRecord<byte[], byte[]> r : polled.records(tp)) {
                try {
                    handler.accept(r);
                } catch (RuntimeException e) {
                    if (FaultKind.isTransient(e)) {
                        log.warn("cannot read the record on {} at offset {} now ({}); trying again", tp, r.offset(),
                                e.getMessage());
                        consumer.seek(tp, r.offset());
                        complete = false;
                        break;
                    }
                    log.error("unreadable record on {} at offset {} passed: {}", tp, r.offset(), e.toString());
                }
            }
        }
        return complete;
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

    /**
     * Waits until everything committed to the topic when this is called has been handed to the handler
     * (end offsets taken with {@code consumer}; read_committed consumers see the last stable offsets).
     *
     * @throws TimeoutException (transient) when that takes longer than {@code timeout}
     */
    public void syncWith(org.apache.kafka.clients.consumer.Consumer<?, ?> consumer, Duration timeout) throws InterruptedException {
        syncWith(consumer, timeout, Map.of());
    }

    /**
     * As {@link #syncWith(org.apache.kafka.clients.consumer.Consumer, Duration)}, and at least up to
     * {@code written} (the ends of this instance's own last transaction, which the end offsets may not
     * show yet: its commit markers are written after the commit returns).
     */
    public void syncWith(org.apache.kafka.clients.consumer.Consumer<?, ?> consumer, Duration timeout,
                         Map<TopicPartition, Long> written) throws InterruptedException {
        List<TopicPartition> partitions = consumer.partitionsFor(topic, timeout).stream()
                .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
        Map<TopicPartition, Long> ends = new HashMap<>(consumer.endOffsets(Set.copyOf(partitions), timeout));
        written.forEach((tp, end) -> {
            if (tp.topic().equals(topic)) {
                ends.merge(tp, end, Math::max);
            }
        });
        if (!awaitPositions(ends, timeout)) {
            throw new TimeoutException("the topic " + topic + " was not read up to " + ends + " within " + timeout);
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
