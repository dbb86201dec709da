package io.spinstream.runtime.kafka;

import io.spinstream.runtime.Backoff;
import io.spinstream.runtime.FaultKind;
import io.spinstream.runtime.PollingService;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * The one exactly-once consume → transform → produce loop of the consuming services, in the shape of Kafka's
 * {@code ExactlyOnceMessageProcessor}: poll, gather a batch, let the {@link Step} transform it, and send its output
 * with the batch's offsets in one transaction. What it guarantees, once for every step:
 * <ul>
 *   <li>a transient fault (the broker, the registry or a model server unreachable) forgets the batch, rewinds to the
 *   committed offsets and backs off: nothing is written twice or lost;</li>
 *   <li>partitions revoked or lost drop the batch uncommitted, for their new owner to read;</li>
 *   <li>offsets are committed at the consumer's position, past transaction markers, and an idle pass commits past
 *   markers it never sees as records, so a finished pass shows lag 0;</li>
 *   <li>a fenced producer (another instance took over the transactional id) ends the loop with its exception.</li>
 * </ul>
 * It runs on its service's thread and consumer; the service decides when to start and end it.
 */
public final class ExactlyOnceLoop {
    private static final Logger log = LoggerFactory.getLogger(ExactlyOnceLoop.class);

    /** What a service does with what the loop reads. */
    @FunctionalInterface
    public interface Step {
        /** The batch's output. A transient fault thrown here has the whole batch read again. */
        Output transform(List<ConsumerRecord<byte[], byte[]>> batch, Session session) throws Exception;

        /** After every poll, before a due batch is transformed: work of the step's own (a promotion that waited). */
        default void polled(Session session) throws Exception {
        }
    }

    /** Records to commit with the batch's offsets, and what to count once they are committed (not before). */
    public record Output(List<ProducerRecord<byte[], byte[]>> records, Runnable onCommit) {
        public static Output of(List<ProducerRecord<byte[], byte[]>> records) {
            return new Output(records, () -> {
            });
        }
    }

    /** What a step may use of the loop: its consumer (metadata, end offsets) and its transaction. */
    public interface Session {
        Consumer<byte[], byte[]> consumer();

        /** Where the records of the last committed transaction end, per partition (see {@link TransactionStep#written()}). */
        Map<TopicPartition, Long> written();

        /** Commits records without offsets in a transaction of their own; true when committed. */
        boolean commit(List<ProducerRecord<byte[], byte[]>> records);
    }

    /**
     * How batches are gathered: one is transformed once it holds {@code batchRecords} records or {@code batchWait}
     * after its first (zero: every poll's records are a batch).
     *
     * @param backoffs       a fresh back-off for each outage
     * @param beforeCommit   runs once a transaction's records are sent, before its commit (a fault point of the tests)
     * @param transientFault runs each time a transient fault made the loop forget a batch (to be counted)
     */
    public record Settings(String name, Duration pollTimeout, int batchRecords, Duration batchWait,
                           Supplier<Backoff> backoffs, Runnable beforeCommit, Runnable transientFault) {
        /** Every poll's records a batch, the standard back-off, no fault point. */
        public static Settings perPoll(String name, Duration pollTimeout, Runnable transientFault) {
            return new Settings(name, pollTimeout, 1, Duration.ZERO, Backoff::standard, () -> {
            }, transientFault);
        }
    }

    private final PollingService.Worker worker;
    private final Consumer<byte[], byte[]> consumer;
    private final Settings settings;
    private final Step step;
    private final TransactionStep transaction;
    private final Session session;

    // Owned by the loop's thread (the rebalance listener runs inside poll, on it too).
    private final List<ConsumerRecord<byte[], byte[]>> batch = new ArrayList<>();
    private final Map<TopicPartition, OffsetAndMetadata> pending = new HashMap<>();
    private final Map<TopicPartition, Long> committed = new HashMap<>(); // known committed positions
    private long batchStarted;

    public ExactlyOnceLoop(PollingService.Worker worker, Consumer<byte[], byte[]> consumer, Producer<byte[], byte[]> producer,
                           Settings settings, Step step) {
        this.worker = worker;
        this.consumer = consumer;
        this.settings = settings;
        this.step = step;
        this.transaction = new TransactionStep(producer, consumer, settings.backoffs(), settings.beforeCommit());
        this.session = new Session() {
            @Override
            public Consumer<byte[], byte[]> consumer() {
                return consumer;
            }

            @Override
            public Map<TopicPartition, Long> written() {
                return transaction.written();
            }

            @Override
            public boolean commit(List<ProducerRecord<byte[], byte[]>> records) {
                return transaction.commit(records, Map.of());
            }
        };
    }

    /** Subscribes to the topics with the loop's rebalance handling. */
    public ExactlyOnceLoop subscribe(Collection<String> topics) {
        consumer.subscribe(topics, new DropOnRevoke());
        return this;
    }

    /** Subscribes to the topics the pattern matches, now and later, with the loop's rebalance handling. */
    public ExactlyOnceLoop subscribe(Pattern topics) {
        consumer.subscribe(topics, new DropOnRevoke());
        return this;
    }

    /** What a step sees before the loop runs (to catch up on history before the first batch). */
    public Session session() {
        return session;
    }

    /**
     * Runs until the service stops, the consumer is woken up or {@code current} turns false. The batch in hand is
     * then finished; if an outage prevents that, it is left uncommitted and read again by the group's next reader.
     */
    public void run(BooleanSupplier current) throws Exception {
        worker.polling(consumer);
        worker.ready(true);
        Backoff outage = settings.backoffs().get();
        try {
            while (worker.running() && current.getAsBoolean()) {
                ConsumerRecords<byte[], byte[]> polled;
                try {
                    polled = consumer.poll(settings.pollTimeout());
                } catch (WakeupException e) {
                    break;
                }
                try {
                    worker.working(settings.name() + ": " + polled.count() + " records read, " + batch.size() + " in the batch");
                    take(polled);
                    step.polled(session);
                    if (due()) {
                        flush();
                    }
                    outage.reset();
                } catch (RuntimeException e) {
                    if (!FaultKind.isTransient(e)) {
                        throw e;
                    }
                    readAgainLater(e, outage);
                } finally {
                    worker.idle();
                }
            }
            if (!pending.isEmpty()) {
                try {
                    flush();
                } catch (RuntimeException e) {
                    if (!FaultKind.isTransient(e)) {
                        throw e;
                    }
                    log.warn("{}: the last batch is left uncommitted ({})", settings.name(), e.getMessage());
                }
            }
        } finally {
            worker.polling(null);
            worker.ready(false);
            forget();
        }
    }

    private void take(ConsumerRecords<byte[], byte[]> polled) {
        if (polled.isEmpty()) {
            if (batch.isEmpty() && pending.isEmpty()) {
                pastMarkers();
            }
            return;
        }
        if (batch.isEmpty()) {
            batchStarted = System.nanoTime();
        }
        for (ConsumerRecord<byte[], byte[]> r : polled) {
            batch.add(r);
            pending.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
        }
    }

    private boolean due() {
        if (pending.isEmpty()) {
            return false;
        }
        return batch.isEmpty() // offsets alone, past markers
                || batch.size() >= settings.batchRecords()
                || System.nanoTime() - batchStarted >= settings.batchWait().toNanos();
    }

    /**
     * With nothing in hand, a position beyond what was committed can only be transaction markers or aborted
     * records: commit it (offsets only), so the group's lag reaches 0 at the end of a pass.
     */
    private void pastMarkers() {
        for (TopicPartition tp : consumer.assignment()) {
            Long known = committed.get(tp);
            if (known != null) {
                long position = consumer.position(tp);
                if (position > known) {
                    pending.put(tp, new OffsetAndMetadata(position));
                }
            }
        }
    }

    /** Transforms the batch and commits its output with its offsets in one transaction. */
    private void flush() throws Exception {
        Output out = batch.isEmpty() ? Output.of(List.of()) : step.transform(List.copyOf(batch), session);
        // Every polled record is in the batch, so the position is where the group resumes; it lies past
        // transaction markers too.
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : pending.entrySet()) {
            long position = consumer.position(e.getKey());
            if (position > e.getValue().offset()) {
                e.setValue(new OffsetAndMetadata(position));
            }
        }
        Map<TopicPartition, OffsetAndMetadata> offsets = Map.copyOf(pending);
        if (transaction.commit(out.records(), offsets)) {
            offsets.forEach((tp, o) -> committed.put(tp, o.offset()));
            out.onCommit().run();
        }
        forget(); // committed, or aborted and rewound: read again
    }

    /**
     * A transient fault while a batch was read, transformed or committed: forget the batch, back off and rewind
     * to the committed offsets. Nothing is dead-lettered or committed.
     */
    private void readAgainLater(RuntimeException fault, Backoff outage) {
        log.warn("{}: transient fault ({}); the uncommitted batch is read again in {}", settings.name(), fault.getMessage(),
                outage.peek());
        forget();
        settings.transientFault().run();
        while (true) { // the rewind must happen: records polled after the committed offsets would be skipped
            try {
                outage.pauseOrThrow();
                TransactionStep.rewind(consumer, consumer.assignment());
                return;
            } catch (RuntimeException again) {
                if (!FaultKind.isTransient(again)) { // an interrupt too
                    throw again;
                }
                log.warn("{}: rewinding failed ({}); trying again in {}", settings.name(), again.getMessage(), outage.peek());
            }
        }
    }

    private void forget() {
        batch.clear();
        pending.clear();
    }

    /**
     * Records polled from a partition this instance loses are dropped uncommitted: the new owner reads them again
     * from the committed offset, so nothing is done twice or lost.
     */
    private final class DropOnRevoke implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            drop(partitions);
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            drop(partitions);
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            // Positions start at the committed offsets; knowing them lets an idle pass commit past records it
            // never sees (a partition holding only aborted records and markers).
            if (!partitions.isEmpty()) {
                consumer.committed(new HashSet<>(partitions)).forEach((tp, o) ->
                        committed.putIfAbsent(tp, o == null ? 0L : o.offset()));
                partitions.forEach(tp -> committed.putIfAbsent(tp, 0L));
            }
        }

        /** Forgets the whole uncommitted batch; partitions kept are rewound to their committed offsets. */
        private void drop(Collection<TopicPartition> revoked) {
            revoked.forEach(committed::remove);
            if (revoked.isEmpty() || pending.isEmpty()) {
                return;
            }
            Set<TopicPartition> kept = new HashSet<>(pending.keySet());
            kept.removeAll(revoked);
            forget();
            if (!kept.isEmpty()) {
                TransactionStep.rewind(consumer, kept);
            }
        }
    }
}
