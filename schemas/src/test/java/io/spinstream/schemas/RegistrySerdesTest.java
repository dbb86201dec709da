package io.spinstream.schemas;

import io.spinstream.devstack.DevStack;
import io.spinstream.devstack.BrokerTest;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@BrokerTest
class RegistrySerdesTest {
    private static Topics topics;
    private static SchemaRegistrar registrar;
    private static DevStack stack;

    @BeforeAll
    static void catalogue(DevStack devStack) {
        stack = devStack;
        // A prefix of its own per class: the stack is shared by every test class of this JVM.
        topics = new Topics("serdes-" + UUID.randomUUID().toString().substring(0, 8), Topics.Layout.LOCAL,
                new AvroSerdes(stack.registryUrl()));
        registrar = new SchemaRegistrar(stack.registryUrl());
    }

    private static Prompt prompt(String id) {
        return Prompt.newBuilder().setPromptId(id).setStream("arith").setPrompt("12+30=").setHumanResponse("42")
                .setTask(TaskMetadata.newBuilder().setKind("addition").setVerifiable(true).build())
                .setCreatedAt(Instant.ofEpochMilli(1_700_000_000_000L)).build();
    }

    @Test
    void bytesOnTheWireAreConfluentFormatAndTheIdResolvesThroughTheConfluentApi() throws Exception {
        Topic<String, Prompt> topic = topics.prompts("arith");
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers()))) {
            new TopicProvisioner(admin, registrar).ensure(List.of(topic));
        }
        Prompt sent = prompt("p-1");
        try (KafkaProducer<String, Prompt> producer = new KafkaProducer<>(
                Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers()),
                topic.keySerde().serializer(), topic.valueSerde().serializer())) {
            producer.send(topic.record("p-1", sent)).get();
        }
        byte[] raw = readOneRaw(topic.name());

        assertThat(raw[0]).as("magic byte").isEqualTo((byte) 0);
        int id = ByteBuffer.wrap(raw, 1, 4).getInt();
        assertThat(id).isPositive();

        HttpResponse<String> byId = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create(stack.registryUrl() + "/schemas/ids/" + id)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(byId.statusCode()).isEqualTo(200);
        assertThat(registrar.schemaById(id)).isEqualTo(Prompt.getClassSchema());

        HttpResponse<String> subjects = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create(stack.registryUrl() + "/subjects")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(subjects.body()).contains("\"" + topic.name() + "-value\"");
        assertThat(registrar.compatibility(topic.subject())).isEqualTo("BACKWARD");

        assertThat(topic.deserializeValue(raw)).isEqualTo(sent);
    }

    @Test
    void anIncompatibleSchemaChangeIsRefusedWithAClearErrorAndACompatibleOneIsAccepted() {
        Topic<String, Prompt> topic = topics.prompts("evolve");
        int v1 = registrar.register(topic);

        // A new field without a default: readers on the new schema could not read old records.
        Schema breaking = SchemaBuilder.record("Prompt").namespace("io.spinstream.schemas").fields()
                .requiredString("prompt_id").requiredString("stream").requiredString("prompt")
                .requiredString("human_response").requiredInt("difficulty").endRecord();
        assertThatThrownBy(() -> registrar.register(topic.subject(), breaking))
                .isInstanceOf(SchemaRegistrar.IncompatibleSchemaException.class)
                .hasMessageContaining("refused")
                .hasMessageContaining(topic.subject())
                .hasMessageContaining("Incompatible")
                .hasMessageContaining("difficulty");

        Schema evolved = new Schema.Parser().parse(Prompt.getClassSchema().toString()
                .replace("\"name\":\"created_at\"", "\"name\":\"difficulty\",\"type\":\"int\",\"default\":0},{\"name\":\"created_at\""));
        assertThat(evolved.getField("difficulty")).isNotNull();
        int v2 = registrar.register(topic.subject(), evolved);
        assertThat(v2).isNotEqualTo(v1);
        assertThat(registrar.register(topic)).as("re-registering is idempotent").isEqualTo(v1);
    }

    @Test
    void provisioningIsIdempotentAndAppliesTheCatalogueSettings() {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers()))) {
            TopicProvisioner provisioner = new TopicProvisioner(admin, registrar);
            List<String> first = provisioner.ensure(topics.fixed());
            List<String> second = provisioner.ensure(topics.fixed());
            assertThat(first).hasSize(topics.fixed().size());
            assertThat(second).isEmpty();
            assertThat(provisioner.describeConfigs(topics.opponent().name()))
                    .containsEntry(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT);
            assertThat(provisioner.describeConfigs(topics.checkpoints().name()))
                    .containsEntry(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_DELETE)
                    .containsEntry(TopicConfig.RETENTION_MS_CONFIG, "-1");
        }
        for (Topic<?, ?> t : topics.fixed()) {
            assertThat(registrar.compatibility(t.subject())).as(t.subject()).isEqualTo("BACKWARD");
        }
    }

    private static byte[] readOneRaw(String topic) {
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, "raw-" + UUID.randomUUID(),
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            List<byte[]> values = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (values.isEmpty() && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    values.add(r.value());
                }
            }
            assertThat(values).hasSize(1);
            return values.get(0);
        }
    }
}
