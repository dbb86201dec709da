package io.spinstream.runtime.kafka;

import io.spinstream.runtime.Backoff;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.function.Supplier;

/**
 * One consume-transform-produce step of a transactional service: begin, send the records, send the
 * consumed offsets, commit. When the transaction fails it is aborted and the consumer is rewound to its
 * group's committed offsets, so the step's input is read again and nothing it produced is visible. A
 * fenced producer (another instance took over its transactional id) is not recoverable and is thrown.
 */
public final class TransactionStep {
    private static final Logger log = LoggerFactory.getLogger(TransactionStep.class);

    private final Producer<byte[], byte[]> producer;
    private final Consumer<?, ?> consumer;
    private final Supplier<Backoff> backoffs;
    private final Runnable beforeCommit;
    private Map<TopicPartition, Long> written = Map.of();

    public TransactionStep(Producer<byte[], byte[]> producer, Consumer<?, ?> consumer) {
        this(producer, consumer, Backoff::standard, () -> {
        });
    }

    /**
     * @param backoffs   a fresh back-off for each commit or abort that has to be tried again
     * @param beforeCommit runs once everything is sent, before the commit (a fault point of the tests)
     */
    public TransactionStep(Producer<byte[], byte[]> producer, Consumer<?, ?> consumer, Supplier<Backoff> backoffs,
                           Runnable beforeCommit) {
        this.producer = producer;
        this.consumer = consumer;
        this.backoffs = backoffs;
        this.beforeCommit = beforeCommit;
    }

    /**
     * Commits {@code records} together with {@code offsets} (may be empty: records only); true when
     * committed, false when the transaction was aborted and the offsets' partitions rewound. A commit or
     * abort that times out (the broker is unreachable) is tried again with back-off, as the producer
     * allows, and never followed by an abort: its outcome is not known until it completes.
     */
    public boolean commit(List<ProducerRecord<byte[], byte[]>> records, Map<TopicPartition, OffsetAndMetadata> offsets) {
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        try {
            producer.beginTransaction();
            records.forEach(r -> sent.add(producer.send(r)));
            if (!offsets.isEmpty()) {
                producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
            }
        } catch (ProducerFencedException e) {
            throw e;
        } catch (KafkaException e) {
            return abort(e, offsets.keySet());
        }
        beforeCommit.run();
        Backoff backoff = backoff();
        while (true) {
            try {
                producer.commitTransaction();
                written = endsOf(sent);
                return true;
            } catch (TimeoutException e) {
                log.warn("committing the transaction timed out ({}); trying the commit again", e.getMessage());
                backoff.pauseOrThrow();
            } catch (ProducerFencedException e) {
                throw e;
            } catch (KafkaException e) {
                return abort(e, offsets.keySet());
            }
        }
    }

    /**
     * Where the records of the last committed transaction end, per partition (offset + 1). A read-committed
     * reader may not see them at once (the commit markers are written after the commit returns): wait
     * for these positions before deciding on what the transaction wrote.
     */
    public Map<TopicPartition, Long> written() {
        return written;
    }

    private static Map<TopicPartition, Long> endsOf(List<Future<RecordMetadata>> sent) {
        Map<TopicPartition, Long> ends = new HashMap<>();
        for (Future<RecordMetadata> f : sent) {
            try {
                RecordMetadata m = f.get(); // done: the commit flushed every send
                if (m.hasOffset()) {
                    ends.merge(new TopicPartition(m.topic(), m.partition()), m.offset() + 1, Math::max);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptException(e);
            } catch (ExecutionException e) {
                throw new KafkaException("a send of a committed transaction failed", e.getCause());
            }
        }
        return Map.copyOf(ends);
    }

    private boolean abort(KafkaException cause, Collection<TopicPartition> partitions) {
        log.warn("transaction failed ({}); aborted, its input is read again from the committed offsets", cause.toString());
        Backoff backoff = backoff();
        while (true) {
            try {
                producer.abortTransaction();
                break;
            } catch (TimeoutException e) {
                log.warn("aborting the transaction timed out ({}); trying again", e.getMessage());
                backoff.pauseOrThrow();
            }
        }
        while (true) {
            try {
                rewind(consumer, partitions);
                return false;
            } catch (TimeoutException e) {
                log.warn("reading the committed offsets timed out ({}); trying again", e.getMessage());
                backoff.pauseOrThrow();
            }
        }
    }

    private Backoff backoff() {
        return backoffs.get();
    }

    /** Seeks {@code partitions} back to the group's committed offsets (the beginning where none is committed). */
    public static void rewind(Consumer<?, ?> consumer, Collection<TopicPartition> partitions) {
        if (partitions.isEmpty()) {
            return;
        }
        Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(Set.copyOf(partitions));
        for (TopicPartition tp : partitions) {
            OffsetAndMetadata o = committed.get(tp);
            if (o != null) {
                consumer.seek(tp, o);
            } else {
                consumer.seekToBeginning(List.of(tp));
            }
        }
    }
}
