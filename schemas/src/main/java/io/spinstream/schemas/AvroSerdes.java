package io.spinstream.schemas;

import io.apicurio.registry.resolver.config.SchemaResolverConfig;
import io.apicurio.registry.serde.Default4ByteIdHandler;
import io.apicurio.registry.serde.avro.AvroKafkaDeserializer;
import io.apicurio.registry.serde.avro.AvroKafkaSerializer;
import io.apicurio.registry.serde.avro.AvroSerdeConfig;
import io.apicurio.registry.serde.config.SerdeConfig;
import io.apicurio.registry.serde.kafka.config.KafkaSerdeConfig;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

import java.util.HashMap;
import java.util.Map;

/**
 * Registry-backed Avro serdes in the Confluent wire format: magic byte 0, a 4-byte schema id (the
 * registry's content id, which is also the id of the Confluent-compatible API), then Avro binary.
 * Subjects follow the topic name strategy ({@code <topic>-value}).
 */
public final class AvroSerdes {
    /** The first byte of every value in the Confluent wire format. */
    public static final byte MAGIC_BYTE = 0;
    private final String registryUrl;
    private final Map<String, Object> config;

    /**
     * @param registryUrl the registry's base URL, e.g. {@code http://127.0.0.1:8080}
     * @param extra       further serde settings (TLS, auth), passed through as given
     */
    public AvroSerdes(String registryUrl, Map<String, ?> extra) {
        this.registryUrl = stripSlash(registryUrl);
        Map<String, Object> c = new HashMap<>();
        c.put(SchemaResolverConfig.REGISTRY_URL, this.registryUrl + "/apis/registry/v3");
        c.put(SerdeConfig.ID_HANDLER, Default4ByteIdHandler.class.getName());
        c.put(SerdeConfig.USE_ID, "contentId");
        c.put(SchemaResolverConfig.AUTO_REGISTER_ARTIFACT, true);
        c.put(SchemaResolverConfig.FIND_LATEST_ARTIFACT, false);
        // One self-contained schema per subject (no references), as Confluent clients expect.
        c.put(SchemaResolverConfig.DEREFERENCE_SCHEMA, true);
        c.put(KafkaSerdeConfig.ENABLE_HEADERS, false); // the id travels in the payload, not in headers
        c.put(AvroSerdeConfig.USE_SPECIFIC_AVRO_READER, true);
        c.putAll(extra);
        this.config = Map.copyOf(c);
    }

    public AvroSerdes(String registryUrl) {
        this(registryUrl, Map.of());
    }

    /** With the credentials and trust store of {@code access}. */
    public AvroSerdes(RegistryAccess access) {
        this(access.url(), access.serdeSettings());
    }

    private static String stripSlash(String url) {
        return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    public String registryUrl() {
        return registryUrl;
    }

    /**
     * A value serde for generated Avro records. Its failures say whose fault they are: a
     * {@link RegistryUnavailableException} when the registry could not be asked (read the record again
     * later), a {@link SerializationException} when the record itself is at fault (a dead letter).
     */
    public <T extends SpecificRecord> Serde<T> value() {
        AvroKafkaSerializer<T> serializer = new AvroKafkaSerializer<>();
        AvroKafkaDeserializer<T> deserializer = new AvroKafkaDeserializer<>();
        serializer.configure(config, false);
        deserializer.configure(config, false);
        Serializer<T> guarded = (topic, value) -> {
            try {
                return serializer.serialize(topic, value);
            } catch (RuntimeException e) {
                throw RegistryUnavailableException.classify(topic, e);
            }
        };
        Deserializer<T> checked = (topic, bytes) -> {
            checkWireFormat(bytes);
            T value;
            try {
                value = deserializer.deserialize(topic, bytes);
            } catch (RuntimeException e) {
                throw RegistryUnavailableException.classify(topic, e);
            }
            Utf8Strictness.check(topic, bytes, value);
            return value;
        };
        return Serdes.serdeFrom(guarded, checked);
    }

    /**
     * Refuses bytes that are not in the wire format before the registry client sees them: its own error
     * for them does not say what is wrong.
     */
    static void checkWireFormat(byte[] bytes) {
        if (bytes == null) {
            return;
        }
        if (bytes.length < 5) {
            throw new SerializationException("not in the registry wire format: " + bytes.length
                    + " bytes, expected magic byte 0, a 4-byte schema id and the Avro body");
        }
        if (bytes[0] != MAGIC_BYTE) {
            throw new SerializationException(String.format("not in the registry wire format: first byte is 0x%02x,"
                    + " expected magic byte 0x00 followed by a 4-byte schema id", bytes[0]));
        }
    }

    /** The serde settings, for clients (Kafka Streams) that configure serdes themselves. */
    public Map<String, Object> config() {
        return config;
    }
}
