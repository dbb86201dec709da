package io.spinstream.schemas;

import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.DevStack;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Whose fault a serde failure is: the registry that cannot be asked (transient, read again later) or
 * the record itself (a dead letter): an unknown schema id, a body cut short, invalid UTF-8.
 */
@BrokerTest
class RegistryFaultsTest {
    private static Topics topics;

    @BeforeAll
    static void catalogue(DevStack stack) {
        topics = new Topics("faults-" + UUID.randomUUID().toString().substring(0, 8), Topics.Layout.LOCAL,
                new AvroSerdes(stack.registryUrl()));
    }

    private static Prompt prompt(String text) {
        return Prompt.newBuilder().setPromptId("p-1").setStream("s").setPrompt(text).setHumanResponse("42")
                .setTask(TaskMetadata.newBuilder().setKind("addition").setVerifiable(true).build())
                .setCreatedAt(Instant.ofEpochMilli(1_700_000_000_000L)).build();
    }

    private static int closedPort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void aRegistryThatCannotBeReachedIsTransientForReadersAndWriters() throws Exception {
        byte[] wire = topics.prompts("s").serializeValue(prompt("12+30="));
        Topics unreachable = new Topics(topics.prefix(), Topics.Layout.LOCAL,
                new AvroSerdes("http://127.0.0.1:" + closedPort()));
        assertThatThrownBy(() -> unreachable.prompts("s").deserializeValue(wire))
                .isInstanceOf(RegistryUnavailableException.class)
                .hasMessageContaining("cannot be reached");
        assertThatThrownBy(() -> unreachable.prompts("s").serializeValue(prompt("1+1=")))
                .isInstanceOf(RegistryUnavailableException.class);
    }

    @Test
    void anIdTheRegistryDoesNotKnowIsTheRecordsFault() {
        byte[] unknownId = {0, 0x7f, 0x00, 0x00, 0x01, 2, 'a'};
        assertThatThrownBy(() -> topics.prompts("s").deserializeValue(unknownId))
                .isInstanceOf(SerializationException.class)
                .isNotInstanceOf(RegistryUnavailableException.class)
                .hasMessageContaining("does not know the record's schema id");
    }

    @Test
    void aBodyCutShortIsTheRecordsFault() {
        byte[] wire = topics.prompts("s").serializeValue(prompt("12+30="));
        assertThatThrownBy(() -> topics.prompts("s").deserializeValue(Arrays.copyOf(wire, 9)))
                .isInstanceOf(SerializationException.class)
                .isNotInstanceOf(RegistryUnavailableException.class);
    }

    @Test
    void invalidUtf8InAStringIsRefusedWhileAnEncodedReplacementCharacterIsText() {
        byte[] wire = topics.prompts("s").serializeValue(prompt("12+3X="));
        int at = indexOf(wire, "12+3X=".getBytes(StandardCharsets.US_ASCII)) + 4;
        byte[] corrupt = wire.clone();
        corrupt[at] = (byte) 0xC3; // a lead byte with no continuation: not UTF-8
        assertThatThrownBy(() -> topics.prompts("s").deserializeValue(corrupt))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("not valid UTF-8");

        Prompt withReplacement = prompt("12\uFFFD30=");
        assertThat(topics.prompts("s").deserializeValue(topics.prompts("s").serializeValue(withReplacement)))
                .isEqualTo(withReplacement);
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            if (Arrays.equals(haystack, i, i + needle.length, needle, 0, needle.length)) {
                return i;
            }
        }
        throw new AssertionError("not found");
    }
}
