package io.spinstream.schemas;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.DevStack;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Records across languages: Confluent's Python client ({@code confluent_kafka}'s SchemaRegistryClient and
 * Producer, Apache Avro's encoder) writes a Prompt that the Java serde reads, and reads one the Java serde wrote,
 * through the dev stack's registry (Apicurio's Confluent API) and broker. Skipped, with the reason, where
 * {@code python3} lacks {@code confluent_kafka} or {@code avro} (Debian: python3-confluent-kafka, python3-avro).
 */
@BrokerTest
class ConfluentPythonClientTest {

    /** The first Python that has the client (the system's, where a version manager shadows it on the PATH), or null. */
    private static String pythonWithTheClient() {
        for (String python : List.of("/usr/bin/python3", "python3")) {
            try {
                Process p = new ProcessBuilder(python, "-c", "import confluent_kafka.schema_registry, avro.io").redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                if (p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    return python;
                }
            } catch (Exception e) {
                // not this one
            }
        }
        return null;
    }

    @Test
    void aRecordWrittenByConfluentsPythonClientIsReadHereAndTheOtherWayRound(DevStack stack, @TempDir Path dir) throws Exception {
        String python = pythonWithTheClient();
        assumeTrue(python != null, "python3 with confluent_kafka and avro is not installed (Debian: python3-confluent-kafka"
                + " python3-avro): the cross-language test is skipped");
        String prefix = "py-" + UUID.randomUUID().toString().substring(0, 8);
        Topic<String, Prompt> topic = new Topics(prefix, Topics.Layout.LOCAL, new AvroSerdes(stack.registryUrl())).prompts("py");
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers()))) {
            new TopicProvisioner(admin, new SchemaRegistrar(stack.registryUrl())).ensure(List.of(topic));
        }
        Prompt javaWritten = Prompt.newBuilder().setPromptId("java-1").setStream("py").setPrompt("2+2=").setHumanResponse("4")
                .setTask(TaskMetadata.newBuilder().setKind("addition").setVerifiable(true).build())
                .setCreatedAt(Instant.ofEpochMilli(1_700_000_000_000L)).build();
        byte[] javaBytes = topic.serializeValue(javaWritten);
        Path schema = Files.writeString(dir.resolve("prompt.avsc"), Prompt.getClassSchema().toString());
        Path script = dir.resolve("client.py");
        try (var in = getClass().getResourceAsStream("/confluent_python_client.py")) {
            Files.write(script, in.readAllBytes());
        }
        Process p = new ProcessBuilder(python, script.toString(), stack.registryUrl(), stack.bootstrapServers(), topic.name(),
                schema.toString(), HexFormat.of().formatHex(javaBytes)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        String[] lines = out.strip().split("\n");
        JsonNode result = new ObjectMapper().readTree(lines[lines.length - 1]);
        // Python read the Java record, its writer schema fetched by the id on the wire.
        assertThat(result.get("java_prompt_id").asText()).isEqualTo("java-1");
        assertThat(result.get("java_answer").asText()).isEqualTo("4");
        assertThat(result.get("java_id").asInt()).isEqualTo(ByteBuffer.wrap(javaBytes, 1, 4).getInt());

        List<Prompt> read = new ArrayList<>();
        List<Integer> ids = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, prefix, ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            c.subscribe(List.of(topic.name()));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (read.isEmpty() && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(300))) {
                    ids.add(ByteBuffer.wrap(r.value(), 1, 4).getInt());
                    read.add(topic.deserializeValue(r.value()));
                }
            }
        }
        assertThat(ids).containsExactly(result.get("id").asInt());
        assertThat(read).hasSize(1);
        Prompt py = read.get(0);
        assertThat(py.getPromptId()).isEqualTo("py-1");
        assertThat(py.getHumanResponse()).isEqualTo("15");
        assertThat(py.getMessages()).hasSize(1);
        assertThat(py.getMessages().get(0).getContent()).isEqualTo("7+8=");
        assertThat(py.getTask().getAttributes()).containsEntry("digits", "1");
        assertThat(py.getCreatedAt()).isEqualTo(Instant.ofEpochMilli(1_700_000_000_000L));
    }
}
