package io.spinstream.runtime.deadletter;

import io.spinstream.schemas.DeadLetter;
import io.spinstream.schemas.Topic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;

import java.nio.ByteBuffer;
import java.time.Clock;

/**
 * Turns a record a service cannot use into a {@link DeadLetter} on the dead-letter topic: where it came
 * from (topic, partition, offset), its raw key and value bytes, the reason and the service. The caller
 * sends it in the same transaction that commits the bad record's offset, so nothing is lost or
 * reported twice.
 */
public final class DeadLetters {
    private final Topic<byte[], DeadLetter> topic;
    private final String service;
    private final Clock clock;

    public DeadLetters(Topic<byte[], DeadLetter> topic, String service, Clock clock) {
        this.topic = topic;
        this.service = service;
        this.clock = clock;
    }

    public DeadLetter letter(String sourceTopic, int partition, long offset, byte[] key, byte[] value, String reason) {
        return DeadLetter.newBuilder()
                .setTopic(sourceTopic)
                .setPartition(partition)
                .setOffset(offset)
                .setRawKey(key == null ? null : ByteBuffer.wrap(key))
                .setRawValue(value == null ? null : ByteBuffer.wrap(value))
                .setError(reason)
                .setService(service)
                .setTime(clock.instant())
                .build();
    }

    /** The dead letter for a raw record, serialized for a raw-bytes (transactional) producer. */
    public ProducerRecord<byte[], byte[]> record(ConsumerRecord<byte[], byte[]> source, String reason) {
        return record(source.topic(), source.partition(), source.offset(), source.key(), source.value(), reason);
    }

    public ProducerRecord<byte[], byte[]> record(String sourceTopic, int partition, long offset, byte[] key,
                                                 byte[] value, String reason) {
        DeadLetter letter = letter(sourceTopic, partition, offset, key, value, reason);
        return new ProducerRecord<>(topic.name(), key, topic.serializeValue(letter));
    }

    /** A one-line reason naming the exception and its root cause. */
    public static String reason(String what, Throwable error) {
        Throwable root = error;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String text = what + ": " + error.getClass().getSimpleName() + ": " + error.getMessage();
        return root == error ? text : text + " (caused by " + root.getClass().getSimpleName() + ": " + root.getMessage() + ")";
    }

    public Topic<byte[], DeadLetter> topic() {
        return topic;
    }
}
