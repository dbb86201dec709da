package io.spinstream.schemas;

import org.apache.avro.Schema;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Avro values in Confluent's wire format (magic byte 0, the 4-byte schema id, Avro binary) on the Confluent REST API:
 * the bytes Confluent's {@code KafkaAvroSerializer} writes. The subject is {@code <topic>-value} (TopicNameStrategy).
 * A value is written with its own schema (registered under the subject when {@code auto.register.schemas}, else
 * looked up there) or with the subject's latest schema ({@code use.latest.version}); it is read as the generated class
 * of the writer schema's full name, resolved from the writer's schema to the class's (Avro schema resolution).
 */
final class ConfluentAvroSerde<T extends SpecificRecord> {
    private final ConfluentRegistryClient registry;
    private final boolean autoRegister;
    private final boolean useLatestVersion;
    private final Map<Integer, SpecificDatumReader<T>> readers = new ConcurrentHashMap<>();
    private final Map<Schema, SpecificDatumWriter<T>> writers = new ConcurrentHashMap<>();

    ConfluentAvroSerde(ConfluentRegistryClient registry, boolean autoRegister, boolean useLatestVersion) {
        this.registry = registry;
        this.autoRegister = autoRegister;
        this.useLatestVersion = useLatestVersion;
    }

    public byte[] serialize(String topic, T value) {
        if (value == null) {
            return null;
        }
        String subject = topic + "-value";
        Schema schema = value.getSchema();
        int id;
        if (useLatestVersion) {
            ConfluentRegistryClient.Registered latest = registry.latest(subject);
            id = latest.id();
            schema = latest.schema();
        } else if (autoRegister) {
            id = registry.register(subject, schema);
        } else {
            Schema own = schema;
            id = registry.lookup(subject, schema).orElseThrow(() -> new SerializationException("the schema of "
                    + own.getFullName() + " is not registered under " + subject + " and auto.register.schemas is off"));
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(AvroSerdes.MAGIC_BYTE);
        out.writeBytes(ByteBuffer.allocate(4).putInt(id).array());
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
        try {
            writers.computeIfAbsent(schema, s -> new SpecificDatumWriter<>(s, SpecificData.get())).write(value, encoder);
            encoder.flush();
        } catch (IOException | RuntimeException e) {
            throw new SerializationException("cannot write a " + value.getSchema().getFullName() + " to " + topic
                    + " with schema id " + id + ": " + e.getMessage(), e);
        }
        return out.toByteArray();
    }

    public T deserialize(String topic, byte[] bytes) {
        if (bytes == null) {
            return null;
        }
        AvroSerdes.checkWireFormat(bytes);
        int id = ByteBuffer.wrap(bytes, 1, 4).getInt();
        SpecificDatumReader<T> reader;
        try {
            reader = readers.computeIfAbsent(id, this::readerOf);
        } catch (ConfluentRegistryClient.NotFound e) {
            throw new SerializationException("the registry does not know the record's schema id " + id + " (" + topic + ", HTTP 404)", e);
        }
        try {
            BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(bytes, 5, bytes.length - 5, null);
            T value = reader.read(null, decoder);
            if (!decoder.isEnd()) {
                throw new SerializationException("the record of " + topic + " has " + (bytes.length - 5)
                        + " bytes, more than its schema (id " + id + ") reads");
            }
            Utf8Strictness.check(topic, bytes, value);
            return value;
        } catch (IOException | RuntimeException e) {
            if (e instanceof SerializationException s) {
                throw s;
            }
            throw new SerializationException("cannot decode the record of " + topic + " with schema id " + id + ": " + e, e);
        }
    }

    /** Reads as the generated class of the writer schema's name, resolving the writer's schema to the class's. */
    @SuppressWarnings("unchecked")
    private SpecificDatumReader<T> readerOf(int id) {
        Schema writer = registry.schemaById(id);
        Class<?> type = SpecificData.get().getClass(writer);
        if (type == null || !SpecificRecord.class.isAssignableFrom(type)) {
            throw new SerializationException("schema id " + id + " names " + writer.getFullName() + ", which is no record type of this project");
        }
        Schema readerSchema = SpecificData.get().getSchema(type);
        return new SpecificDatumReader<>(writer, readerSchema, SpecificData.get());
    }
}
