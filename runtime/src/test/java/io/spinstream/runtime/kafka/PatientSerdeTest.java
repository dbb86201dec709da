package io.spinstream.runtime.kafka;

import io.spinstream.schemas.AvroSerdes;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.RegistryUnavailableException;
import io.spinstream.schemas.Topics;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serde;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The serde waits out an unreachable registry for its patience, and never waits for a record's own fault. */
class PatientSerdeTest {

    @Test
    void aTransientFaultIsWaitedOutForItsPatienceAPermanentOneIsThrownAtOnce() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        Serde<Prompt> unreachable = new Topics("p", Topics.Layout.LOCAL, new AvroSerdes("http://127.0.0.1:" + closed))
                .prompts("s").valueSerde();
        Serde<Prompt> patient = PatientSerde.of(unreachable, Duration.ofMillis(1500));
        byte[] wire = {0, 0, 0, 0, 7, 2, 'a'};

        long t0 = System.nanoTime();
        assertThatThrownBy(() -> patient.deserializer().deserialize("p.prompts.s", wire))
                .isInstanceOf(RegistryUnavailableException.class);
        double waited = (System.nanoTime() - t0) / 1e9;
        assertThat(waited).as("seconds waited before giving up").isBetween(0.7, 6.0);

        long t1 = System.nanoTime();
        assertThatThrownBy(() -> patient.deserializer().deserialize("p.prompts.s", new byte[]{1, 2, 3}))
                .isInstanceOf(SerializationException.class).hasMessageContaining("not in the registry wire format");
        assertThat((System.nanoTime() - t1) / 1e9).as("no wait for the record's own fault").isLessThan(0.5);
    }
}
