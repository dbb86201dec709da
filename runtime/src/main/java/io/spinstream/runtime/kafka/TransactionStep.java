package io.spinstream.runtime.kafka;

import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;

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

    public TransactionStep(Producer<byte[], byte[]> producer, Consumer<?, ?> consumer) {
        this.producer = producer;
        this.consumer = consumer;
    }

    /**
     * Commits {@code records} together with {@code offsets} (may be empty: records only); true when
     * committed, false when the transaction was aborted and the offsets' partitions rewound.
     */
    public boolean commit(List<ProducerRecord<byte[], byte[]>> records, Map<TopicPartition, OffsetAndMetadata> offsets) {
        try {
            producer.beginTransaction();
            records.forEach(producer::send);
            if (!offsets.isEmpty()) {
                producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
            }
            producer.commitTransaction();
            return true;
        } catch (ProducerFencedException e) {
            throw e;
        } catch (KafkaException e) {
            log.warn("transaction failed ({}); aborted, its input is read again from the committed offsets", e.toString());
            producer.abortTransaction();
            rewind(consumer, offsets.keySet());
            return false;
        }
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
