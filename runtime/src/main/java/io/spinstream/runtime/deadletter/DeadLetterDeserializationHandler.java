package io.spinstream.runtime.deadletter;

import io.spinstream.runtime.FaultKind;
import io.spinstream.schemas.AvroSerdes;
import io.spinstream.schemas.RegistryAccess;
import io.spinstream.schemas.Topics;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.DeserializationExceptionHandler;
import org.apache.kafka.streams.errors.ErrorHandlerContext;

import java.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The Kafka Streams side of dead letters: a record that does not deserialize is written to the
 * dead-letter topic (inside the task's exactly-once transaction) and processing resumes. When the
 * registry cannot be asked the record is not at fault: the thread fails and is replaced (see the
 * host's uncaught-exception handler), so the record is read again.
 * Configured through {@link #settings}.
 */
public final class DeadLetterDeserializationHandler implements DeserializationExceptionHandler {
    static final String PREFIX = "spin.deadletter.topic.prefix";
    static final String REGISTRY = "spin.deadletter.registry.url";
    static final String SERVICE = "spin.deadletter.service";
    static final String SERDE = "spin.deadletter.serde.";

    private DeadLetters deadLetters;

    /** The Streams settings that install this handler for a service. */
    public static Map<String, Object> settings(String topicPrefix, RegistryAccess registry, String service) {
        Map<String, Object> m = new HashMap<>();
        m.put(StreamsConfig.DESERIALIZATION_EXCEPTION_HANDLER_CLASS_CONFIG,
                DeadLetterDeserializationHandler.class.getName());
        m.put(PREFIX, topicPrefix);
        m.put(REGISTRY, registry.url());
        m.put(SERVICE, service);
        // The registry's API, credentials and trust store, for the serde of the dead letters' own topic.
        registry.settings().forEach((k, v) -> m.put(SERDE + k, v));
        return m;
    }

    @Override
    public void configure(Map<String, ?> configs) {
        String prefix = Objects.requireNonNull((String) configs.get(PREFIX), PREFIX + " is not set");
        String registry = Objects.requireNonNull((String) configs.get(REGISTRY), REGISTRY + " is not set");
        String service = Objects.requireNonNull((String) configs.get(SERVICE), SERVICE + " is not set");
        Map<String, Object> serde = new HashMap<>();
        configs.forEach((k, v) -> {
            if (k.startsWith(SERDE)) {
                serde.put(k.substring(SERDE.length()), v);
            }
        });
        serde.putIfAbsent("url", registry);
        Topics topics = new Topics(prefix, Topics.Layout.LOCAL, new AvroSerdes(RegistryAccess.fromSettings(serde)));
        this.deadLetters = new DeadLetters(topics.deadLetters(), service, Clock.systemUTC());
    }

    @Override
    public Response handleError(ErrorHandlerContext context, ConsumerRecord<byte[], byte[]> record, Exception exception) {
        if (FaultKind.isTransient(exception)) {
            // The registry could not be asked: fail the stream thread, which is replaced and reads the record
            // again from the committed offsets (exactly-once), instead of dead-lettering a good record.
            return Response.fail();
        }
        return Response.resume(List.of(deadLetters.record(record,
                DeadLetters.reason("cannot deserialize in " + context.processorNodeId(), exception))));
    }
}
