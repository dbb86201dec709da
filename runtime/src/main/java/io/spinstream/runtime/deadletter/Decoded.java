package io.spinstream.runtime.deadletter;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;

import java.util.List;

/**
 * A polled batch after decoding: the records that could be read, and the dead letters for those that
 * could not. Send the dead letters with the batch's outputs and offsets in one transaction.
 */
public record Decoded<K, V>(List<Read<K, V>> records, List<ProducerRecord<byte[], byte[]>> deadLetters) {

    public Decoded {
        records = List.copyOf(records);
        deadLetters = List.copyOf(deadLetters);
    }

    /** One readable record: its typed key and value, and the raw record it came from. */
    public record Read<K, V>(ConsumerRecord<byte[], byte[]> raw, K key, V value) {
        public String topic() {
            return raw.topic();
        }

        public int partition() {
            return raw.partition();
        }

        public long offset() {
            return raw.offset();
        }
    }
}
