package io.spinstream.runtime.kafka;

import io.spinstream.runtime.config.CommonKeys;
import io.spinstream.runtime.config.ServiceConfig;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.StreamsConfig;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The one place where Kafka client settings are made. Every consume-transform-produce path is
 * exactly-once: transactional producers, read-committed consumers without auto-commit (offsets go into
 * the producer's transaction), and Kafka Streams with {@code exactly_once_v2}. Security settings given
 * as {@code spin.kafka.*} reach every client.
 */
public record KafkaSettings(String bootstrapServers, Map<String, String> passthrough, long metadataMaxAgeMs,
                            long transactionTimeoutMs) {

    public KafkaSettings {
        passthrough = Map.copyOf(passthrough);
    }

    public static KafkaSettings from(ServiceConfig config) {
        return new KafkaSettings(config.get(CommonKeys.BOOTSTRAP_SERVERS), config.kafkaPassthrough(),
                config.get(CommonKeys.METADATA_MAX_AGE_MS), config.get(CommonKeys.TRANSACTION_TIMEOUT_MS));
    }

    /** Settings for a cluster with nothing but its address (tools, tests, the local stack). */
    public static KafkaSettings of(String bootstrapServers) {
        return new KafkaSettings(bootstrapServers, Map.of(), 5000, 60_000);
    }

    private Map<String, Object> base() {
        Map<String, Object> m = new HashMap<>(passthrough);
        m.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        // Pattern subscriptions see new prompt streams only at the next metadata refresh.
        m.put(CommonClientConfigs.METADATA_MAX_AGE_CONFIG, Long.toString(metadataMaxAgeMs));
        return m;
    }

    public Map<String, Object> admin() {
        Map<String, Object> m = base();
        m.putIfAbsent(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 30_000);
        return m;
    }

    /** A transactional producer of raw bytes; values are serialized through the topic catalogue. */
    public Map<String, Object> transactionalProducer(String transactionalId) {
        Map<String, Object> m = base();
        m.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        m.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        m.put(ProducerConfig.ACKS_CONFIG, "all");
        m.putIfAbsent(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, (int) transactionTimeoutMs);
        m.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, 5);
        m.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        m.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return m;
    }

    /** An idempotent (not transactional) producer, for tools that write input topics. */
    public Map<String, Object> idempotentProducer() {
        Map<String, Object> m = base();
        m.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        m.put(ProducerConfig.ACKS_CONFIG, "all");
        m.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        m.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return m;
    }

    /**
     * A consumer of raw bytes that sees only committed records and commits nothing by itself: its
     * offsets are sent with the producer's transaction. Values are decoded through the catalogue, so a
     * record that does not deserialize becomes a dead letter instead of stopping the poll loop.
     */
    public Map<String, Object> readCommittedConsumer(String groupId) {
        Map<String, Object> m = base();
        m.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        m.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, IsolationLevel.READ_COMMITTED.toString().toLowerCase(Locale.ROOT));
        m.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        m.putIfAbsent(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        m.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        m.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return m;
    }

    /**
     * A read-committed consumer without a group, for readers that assign partitions and keep their own
     * offsets (in checkpoints) or read whole topics.
     */
    public Map<String, Object> groupLessConsumer() {
        Map<String, Object> m = readCommittedConsumer("unused");
        m.remove(ConsumerConfig.GROUP_ID_CONFIG);
        return m;
    }

    /** Kafka Streams with exactly-once v2; internal topics get the catalogue's replication factor. */
    public Map<String, Object> exactlyOnceStreams(String applicationId, Path stateDir, short replicationFactor) {
        Map<String, Object> m = base();
        m.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        m.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        m.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, (int) replicationFactor);
        m.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        m.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        m.put(StreamsConfig.consumerPrefix(CommonClientConfigs.METADATA_MAX_AGE_CONFIG), Long.toString(metadataMaxAgeMs));
        return m;
    }
}
