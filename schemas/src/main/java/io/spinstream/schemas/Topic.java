package io.spinstream.schemas;

import org.apache.avro.Schema;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Serde;

/**
 * A typed topic of the catalogue: its name, the serdes of its keys and values, and how it is created.
 *
 * @param valueSchema the Avro schema of the values, registered under {@link #subject()}
 */
public record Topic<K, V>(String name, Serde<K> keySerde, Serde<V> valueSerde, TopicSettings settings,
                          Schema valueSchema) {

    /** The registry subject of the value schema: the topic name strategy, {@code <topic>-value}. */
    public String subject() {
        return name + "-value";
    }

    public ProducerRecord<K, V> record(K key, V value) {
        return new ProducerRecord<>(name, key, value);
    }

    /**
     * The record serialized for a raw-bytes producer (the transactional producers of the services send
     * several topics' records in one transaction).
     */
    public ProducerRecord<byte[], byte[]> rawRecord(K key, V value) {
        return new ProducerRecord<>(name, keySerde.serializer().serialize(name, key), serializeValue(value));
    }

    public byte[] serializeValue(V value) {
        return valueSerde.serializer().serialize(name, value);
    }

    public V deserializeValue(byte[] bytes) {
        return valueSerde.deserializer().deserialize(name, bytes);
    }

    public K deserializeKey(byte[] bytes) {
        return keySerde.deserializer().deserialize(name, bytes);
    }

    @Override
    public String toString() {
        return name;
    }
}
