package io.spinstream.runtime.deadletter;

import io.spinstream.runtime.FaultKind;
import io.spinstream.schemas.Topic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Decodes raw records through the topic catalogue. Consumers read bytes and decode here, so that a
 * record which does not deserialize becomes a dead letter and the poll loop keeps going (a consumer
 * with an Avro deserializer would fail the whole poll on it). Only the record's own faults become dead
 * letters; when the registry cannot be asked, {@link #decode} throws and nothing of the batch is
 * decided, so the caller backs off and reads the batch again.
 */
public final class RecordDecoder<K, V> {
    private final Function<String, Topic<K, V>> topicOf;
    private final DeadLetters deadLetters;

    /** @param topicOf the catalogue entry of a source topic (for prompt streams: by stream name) */
    public RecordDecoder(Function<String, Topic<K, V>> topicOf, DeadLetters deadLetters) {
        this.topicOf = topicOf;
        this.deadLetters = deadLetters;
    }

    public Decoded<K, V> decode(Iterable<ConsumerRecord<byte[], byte[]>> batch) {
        List<Decoded.Read<K, V>> ok = new ArrayList<>();
        List<ProducerRecord<byte[], byte[]>> dead = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> raw : batch) {
            try {
                Topic<K, V> topic = topicOf.apply(raw.topic());
                K key = raw.key() == null ? null : topic.deserializeKey(raw.key());
                if (raw.value() == null) {
                    // A tombstone on a compacted topic deletes the key; it carries nothing to process.
                    continue;
                }
                V value = topic.deserializeValue(raw.value());
                if (value == null) {
                    throw new IllegalArgumentException("value decoded to null");
                }
                ok.add(new Decoded.Read<>(raw, key, value));
            } catch (RuntimeException e) {
                if (FaultKind.isTransient(e)) {
                    throw e; // the registry could not be asked: the record is not at fault, read it again later
                }
                dead.add(deadLetters.record(raw, DeadLetters.reason("cannot deserialize", e)));
            }
        }
        return new Decoded<>(ok, dead);
    }
}
