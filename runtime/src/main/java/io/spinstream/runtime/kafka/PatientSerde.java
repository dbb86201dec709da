package io.spinstream.runtime.kafka;

import io.spinstream.runtime.Backoff;
import io.spinstream.runtime.FaultKind;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.function.Supplier;

/**
 * A serde that waits out a transient fault (the registry cannot be reached) where it meets it, backing
 * off, for up to {@code patience}; after that, or on the record's own fault, the failure is thrown as
 * before. For Kafka Streams, whose only other answer to a transient fault is a failed stream thread: a
 * replaced thread's old group member stays until its session times out (45 s by default), so a short
 * registry outage would cost that much on top.
 */
public final class PatientSerde {
    private static final Logger log = LoggerFactory.getLogger(PatientSerde.class);

    private PatientSerde() {
    }

    public static <T> Serde<T> of(Serde<T> serde, Duration patience) {
        Serializer<T> serializer = (topic, value) -> patiently(() -> serde.serializer().serialize(topic, value), topic, patience);
        Deserializer<T> deserializer = (topic, bytes) -> patiently(() -> serde.deserializer().deserialize(topic, bytes), topic,
                patience);
        return Serdes.serdeFrom(serializer, deserializer);
    }

    private static <R> R patiently(Supplier<R> call, String topic, Duration patience) {
        Backoff backoff = new Backoff(Duration.ofMillis(250), Duration.ofSeconds(5));
        long deadline = System.nanoTime() + patience.toNanos();
        while (true) {
            try {
                return call.get();
            } catch (RuntimeException e) {
                if (!FaultKind.isTransient(e) || System.nanoTime() + backoff.peek().toNanos() > deadline) {
                    throw e;
                }
                if (backoff.failures() == 0) {
                    log.warn("{}: {}; waiting for it (up to {})", topic, e.getMessage(), patience);
                }
                backoff.pauseOrThrow();
            }
        }
    }
}
