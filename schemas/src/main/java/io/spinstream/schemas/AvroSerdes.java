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
 * Registry-backed Avro serdes in the Confluent wire format: magic byte 0, a 4-byte schema id, then Avro binary.
 * Subjects follow the topic name strategy ({@code <topic>-value}). By default they speak the Confluent REST API
 * ({@link ConfluentAvroSerde} on {@link ConfluentRegistryClient}: any Confluent-compatible registry, Apicurio's
 * under {@code /apis/ccompat/v7}); {@link RegistryAccess.Api#APICURIO} uses Apicurio's own serdes on its v3 API,
 * whose ids (content ids) are the ids of its Confluent API, so both write the same bytes.
 */
public final class AvroSerdes {
    /** The first byte of every value in the Confluent wire format. */
    public static final byte MAGIC_BYTE = 0;
    private final String registryUrl;
    private final Map<String, Object> config;
    private final RegistryAccess access;
    private final ConfluentRegistryClient confluent; // null with Apicurio's own API

    /** Apicurio's own serdes at its base URL {@code registryUrl}, with further Apicurio serde settings {@code extra}. */
    private AvroSerdes(String registryUrl, Map<String, ?> extra, RegistryAccess access) {
        this.access = access;
        this.confluent = access.api() == RegistryAccess.Api.CONFLUENT ? new ConfluentRegistryClient(access) : null;
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

    /** On the Confluent API whose root is {@code confluentRoot} (Apicurio's: {@code <base>/apis/ccompat/v7}). */
    public AvroSerdes(String confluentRoot) {
        this(RegistryAccess.of(confluentRoot));
    }

    /** As {@code access} says: its API, credentials, trust store and how ids are found. */
    public AvroSerdes(RegistryAccess access) {
        this(access.url(), access.api() == RegistryAccess.Api.APICURIO ? access.apicurioSerdeSettings() : Map.of(), access);
    }

    public RegistryAccess access() {
        return access;
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
        if (confluent != null) {
            ConfluentAvroSerde<T> serde = new ConfluentAvroSerde<>(confluent, access.autoRegister(), access.useLatestVersion());
            Serializer<T> serializer = serde::serialize;
            Deserializer<T> deserializer = serde::deserialize;
            return Serdes.serdeFrom(serializer, deserializer);
        }
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

    /** Apicurio's serde settings (with its own API), for clients that configure Apicurio's serdes themselves. */
    public Map<String, Object> config() {
        return config;
    }
}
