package io.spinstream.runtime.kafka;

import io.spinstream.runtime.Backoff;
import io.spinstream.runtime.PollingService;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.MockConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The exactly-once loop on Kafka's own mock clients: commit, abort, rewind, revocation, fencing, no broker. */
class ExactlyOnceLoopTest {
    private static final String IN = "in";
    private static final TopicPartition P0 = new TopicPartition(IN, 0);
    private static final TopicPartition P1 = new TopicPartition(IN, 1);

    private MockConsumer<byte[], byte[]> consumer;
    private final Worker worker = new Worker();
    private final List<String> transformed = new ArrayList<>();
    private final AtomicInteger counted = new AtomicInteger();
    private final AtomicInteger faults = new AtomicInteger();
    /** Thrown by the next transform, then cleared. */
    private RuntimeException nextFault;

    /** The service side of the loop: always running, its readiness and unit of work recorded. */
    private static final class Worker implements PollingService.Worker {
        boolean ready;
        int units;

        @Override
        public boolean running() {
            return true;
        }

        @Override
        public void polling(org.apache.kafka.clients.consumer.Consumer<?, ?> c) {
        }

        @Override
        public void ready(boolean value) {
            ready = value;
        }

        @Override
        public void working(String what) {
            units++;
        }

        @Override
        public void idle() {
        }
    }

    /** Echoes each record's value to "out", counting on commit. */
    private final ExactlyOnceLoop.Step echo = (batch, session) -> {
            if (nextFault != null) {
                RuntimeException f = nextFault;
                nextFault = null;
                throw f;
            }
            List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>();
            for (ConsumerRecord<byte[], byte[]> r : batch) {
                String v = new String(r.value(), StandardCharsets.UTF_8);
                transformed.add(v);
                out.add(new ProducerRecord<>("out", r.key(), r.value()));
            }
            return new ExactlyOnceLoop.Output(out, () -> counted.addAndGet(batch.size()));
    };

    @BeforeEach
    void setUp() {
        consumer = new MockConsumer<>("earliest");
        consumer.updateBeginningOffsets(Map.of(P0, 0L, P1, 0L));
    }

    private static MockProducer<byte[], byte[]> producer() {
        MockProducer<byte[], byte[]> p = new MockProducer<>(true, null, new ByteArraySerializer(), new ByteArraySerializer());
        p.initTransactions();
        return p;
    }

    private ExactlyOnceLoop loop(MockProducer<byte[], byte[]> producer, int batchRecords, Duration batchWait) {
        ExactlyOnceLoop loop = new ExactlyOnceLoop(worker, consumer, producer, new ExactlyOnceLoop.Settings("test",
                Duration.ofMillis(1), batchRecords, batchWait, () -> new Backoff(Duration.ofMillis(1), Duration.ofMillis(2)),
                () -> {
                }, faults::incrementAndGet), echo);
        loop.subscribe(List.of(IN));
        consumer.rebalance(List.of(P0, P1));
        return loop;
    }

    /** The partitions' contents: MockConsumer hands a record out once, a broker whenever it is read from its offset. */
    private final List<ConsumerRecord<byte[], byte[]>> log = new ArrayList<>();

    private void add(TopicPartition tp, long offset, String value) {
        log.add(new ConsumerRecord<>(tp.topic(), tp.partition(), offset, value.getBytes(StandardCharsets.UTF_8),
                value.getBytes(StandardCharsets.UTF_8)));
    }

    /** n polls, each offered the log of the partitions assigned (MockConsumer returns those at or past the position). */
    private BooleanSupplier polls(int n) {
        AtomicInteger left = new AtomicInteger(n);
        return () -> {
            log.stream().filter(r -> consumer.assignment().contains(new TopicPartition(r.topic(), r.partition())))
                    .forEach(consumer::addRecord);
            return left.getAndDecrement() > 0;
        };
    }

    private static List<String> values(MockProducer<byte[], byte[]> producer) {
        return producer.history().stream().map(r -> new String(r.value(), StandardCharsets.UTF_8)).toList();
    }

    /** What the group's offsets came to, after every transaction committed so far. */
    private static Map<TopicPartition, OffsetAndMetadata> offsets(MockProducer<byte[], byte[]> producer) {
        Map<TopicPartition, OffsetAndMetadata> all = new HashMap<>();
        producer.consumerGroupOffsetsHistory().forEach(byGroup -> byGroup.values().forEach(all::putAll));
        return all;
    }

    @Test
    void aBatchIsWrittenWithItsOffsetsInOneTransactionAndCountedAfterTheCommit() throws Exception {
        MockProducer<byte[], byte[]> producer = producer();
        add(P0, 0, "a");
        add(P0, 1, "b");
        add(P1, 0, "c");
        loop(producer, 10, Duration.ZERO).run(polls(3));
        assertThat(values(producer)).containsExactlyInAnyOrder("a", "b", "c");
        assertThat(producer.commitCount()).isEqualTo(1);
        assertThat(offsets(producer)).containsEntry(P0, new OffsetAndMetadata(2)).containsEntry(P1, new OffsetAndMetadata(1));
        assertThat(counted).hasValue(3);
        assertThat(worker.ready).as("not ready once the loop has ended").isFalse();
    }

    @Test
    void aBatchIsGatheredUntilItHoldsItsRecords() throws Exception {
        MockProducer<byte[], byte[]> producer = producer();
        consumer.setMaxPollRecords(1);
        for (int i = 0; i < 5; i++) {
            add(P0, i, "r" + i);
        }
        loop(producer, 2, Duration.ofHours(1)).run(polls(5));
        // Batches of two; the fifth record is the batch in hand when the loop ends, finished then.
        assertThat(producer.commitCount()).isEqualTo(3);
        assertThat(values(producer)).containsExactly("r0", "r1", "r2", "r3", "r4");
        assertThat(offsets(producer)).containsEntry(P0, new OffsetAndMetadata(5));
    }

    @Test
    void aTransientFaultForgetsTheBatchRewindsAndReadsItAgain() throws Exception {
        MockProducer<byte[], byte[]> producer = producer();
        add(P0, 0, "a");
        add(P0, 1, "b");
        nextFault = new TimeoutException("the registry is unreachable");
        loop(producer, 10, Duration.ZERO).run(polls(4));
        assertThat(faults).hasValue(1);
        assertThat(values(producer)).as("each written once").containsExactly("a", "b");
        assertThat(producer.commitCount()).isEqualTo(1);
        assertThat(offsets(producer)).containsEntry(P0, new OffsetAndMetadata(2));
    }

    @Test
    void aPermanentFaultEndsTheLoopWithNothingCommitted() {
        MockProducer<byte[], byte[]> producer = producer();
        add(P0, 0, "a");
        nextFault = new IllegalStateException("a bug");
        assertThatThrownBy(() -> loop(producer, 10, Duration.ZERO).run(polls(3))).hasMessage("a bug");
        assertThat(producer.history()).isEmpty();
        assertThat(producer.commitCount()).isZero();
    }

    @Test
    void aFailedCommitIsAbortedAndTheBatchReadAgain() throws Exception {
        MockProducer<byte[], byte[]> producer = new MockProducer<>(true, null, new ByteArraySerializer(), new ByteArraySerializer()) {
            private boolean failed;

            @Override
            public void commitTransaction() {
                if (!failed) {
                    failed = true;
                    throw new org.apache.kafka.common.KafkaException("the coordinator refused it");
                }
                super.commitTransaction();
            }
        };
        producer.initTransactions();
        add(P0, 0, "a");
        loop(producer, 10, Duration.ZERO).run(polls(3));
        assertThat(transformed).as("transformed again after the abort").containsExactly("a", "a");
        assertThat(values(producer)).as("the aborted output is not visible").containsExactly("a");
        assertThat(counted).as("counted once, for the committed transaction").hasValue(1);
    }

    @Test
    void aCommitThatTimesOutIsTriedAgainNotAborted() throws Exception {
        AtomicInteger tries = new AtomicInteger();
        MockProducer<byte[], byte[]> producer = new MockProducer<>(true, null, new ByteArraySerializer(), new ByteArraySerializer()) {
            @Override
            public void commitTransaction() {
                if (tries.incrementAndGet() == 1) {
                    throw new TimeoutException("the commit timed out");
                }
                super.commitTransaction();
            }
        };
        producer.initTransactions();
        add(P0, 0, "a");
        loop(producer, 10, Duration.ZERO).run(polls(2));
        assertThat(tries).hasValue(2);
        assertThat(producer.transactionAborted()).isFalse();
        assertThat(transformed).as("transformed once: the commit's outcome was waited for").containsExactly("a");
        assertThat(values(producer)).containsExactly("a");
    }

    @Test
    void aFencedProducerEndsTheLoop() {
        MockProducer<byte[], byte[]> producer = producer();
        producer.fenceProducer();
        add(P0, 0, "a");
        assertThatThrownBy(() -> loop(producer, 10, Duration.ZERO).run(polls(3))).isInstanceOf(ProducerFencedException.class);
        assertThat(producer.history()).isEmpty();
    }

    @Test
    void aRevokedPartitionDropsTheBatchAndTheKeptOnesAreReadAgain() throws Exception {
        MockProducer<byte[], byte[]> producer = producer();
        add(P0, 0, "lost");
        add(P1, 0, "kept");
        ExactlyOnceLoop loop = loop(producer, 10, Duration.ofHours(1));
        consumer.schedulePollTask(() -> {
        }); // the first poll returns both records: a batch in hand, not yet due
        consumer.schedulePollTask(() -> consumer.rebalance(List.of(P1))); // the second takes P0 away
        loop.run(polls(3));
        assertThat(transformed).as("P0's record left to its new owner, P1's read again").containsExactly("kept");
        assertThat(values(producer)).containsExactly("kept");
        assertThat(offsets(producer)).containsOnlyKeys(P1);
    }

    @Test
    void anIdlePassCommitsPastMarkersItNeverSeesAsRecords() throws Exception {
        MockProducer<byte[], byte[]> producer = producer();
        ExactlyOnceLoop loop = loop(producer, 10, Duration.ZERO);
        consumer.schedulePollTask(() -> consumer.seek(P0, 3)); // a pass over markers and aborted records only
        loop.run(polls(3));
        assertThat(producer.history()).isEmpty();
        assertThat(offsets(producer)).containsEntry(P0, new OffsetAndMetadata(3));
    }
}
