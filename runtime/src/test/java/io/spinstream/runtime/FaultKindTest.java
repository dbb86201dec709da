package io.spinstream.runtime;

import io.spinstream.model.checkpoint.CheckpointException;
import io.spinstream.schemas.RegistryUnavailableException;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.streams.errors.StreamsException;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FaultKindTest {

    @Test
    void outagesAndFilesNotThereYetAreTransientTheInputsOwnFaultsPermanent() {
        assertThat(FaultKind.of(new RegistryUnavailableException("down", null))).isEqualTo(FaultKind.TRANSIENT);
        assertThat(FaultKind.of(new TimeoutException("broker"))).isEqualTo(FaultKind.TRANSIENT);
        assertThat(FaultKind.of(CheckpointException.missing("no checkpoint at /x"))).isEqualTo(FaultKind.TRANSIENT);
        // Kafka Streams wraps the handler's failure: the cause decides.
        assertThat(FaultKind.of(new StreamsException(new RegistryUnavailableException("down", null)))).isEqualTo(FaultKind.TRANSIENT);

        assertThat(FaultKind.of(new SerializationException("unknown schema id"))).isEqualTo(FaultKind.PERMANENT);
        assertThat(FaultKind.of(new CheckpointException("sha256 differs"))).isEqualTo(FaultKind.PERMANENT);
        assertThat(FaultKind.of(new KafkaException("fenced"))).isEqualTo(FaultKind.PERMANENT);
        assertThat(FaultKind.of(new IllegalArgumentException("bad"))).isEqualTo(FaultKind.PERMANENT);
    }

    @Test
    void backoffDoublesUpToItsMaximumAndStartsOverAfterASuccess() throws Exception {
        Backoff b = new Backoff(Duration.ofMillis(1), Duration.ofMillis(5));
        assertThat(b.pause()).isEqualTo(Duration.ofMillis(1));
        assertThat(b.pause()).isEqualTo(Duration.ofMillis(2));
        assertThat(b.pause()).isEqualTo(Duration.ofMillis(4));
        assertThat(b.pause()).isEqualTo(Duration.ofMillis(5));
        assertThat(b.peek()).isEqualTo(Duration.ofMillis(5));
        assertThat(b.failures()).isEqualTo(4);
        b.reset();
        assertThat(b.peek()).isEqualTo(Duration.ofMillis(1));
        assertThat(b.failures()).isZero();
        assertThatThrownBy(() -> new Backoff(Duration.ZERO, Duration.ofMillis(5))).hasMessageContaining("0 < initial <= max");
    }
}
