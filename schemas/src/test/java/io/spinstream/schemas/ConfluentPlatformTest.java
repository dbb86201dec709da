package io.spinstream.schemas;

import org.apache.avro.SchemaBuilder;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Test;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.KafkaContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.utility.DockerImageName;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The serdes and the registrar against Confluent's own Schema Registry and a Confluent Platform broker, in
 * containers (Testcontainers): run only where a Docker engine answers, and skipped with the reason elsewhere.
 * {@link ConfluentRegistryTest} tests the same client against Apicurio's Confluent API everywhere.
 */
class ConfluentPlatformTest {
    static final String VERSION = "7.6.1";

    private static boolean dockerAnswers() {
        try {
            return DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException | Error e) {
            return false;
        }
    }

    @Test
    void theSerdesAndTheRegistrarWorkAgainstConfluentsSchemaRegistry() throws Exception {
        assumeTrue(dockerAnswers(), "no Docker engine answers here (DOCKER_HOST or /var/run/docker.sock): the test against"
                + " confluentinc/cp-schema-registry:" + VERSION + " and cp-kafka is skipped; ConfluentRegistryTest covers the same"
                + " client against Apicurio's Confluent API");
        try (Network network = Network.newNetwork();
             KafkaContainer kafka = new KafkaContainer(DockerImageName.parse("confluentinc/cp-kafka:" + VERSION))
                     .withNetwork(network).withNetworkAliases("kafka");
             GenericContainer<?> registry = new GenericContainer<>(DockerImageName.parse("confluentinc/cp-schema-registry:" + VERSION))
                     .withNetwork(network).withExposedPorts(8081)
                     .withEnv("SCHEMA_REGISTRY_HOST_NAME", "schema-registry")
                     .withEnv("SCHEMA_REGISTRY_LISTENERS", "http://0.0.0.0:8081")
                     .withEnv("SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS", "PLAINTEXT://kafka:9092")
                     .waitingFor(Wait.forHttp("/subjects").forStatusCode(200)).withStartupTimeout(Duration.ofMinutes(3))) {
            kafka.start();
            registry.start();
            String url = "http://" + registry.getHost() + ":" + registry.getMappedPort(8081);
            Topics topics = new Topics("cp", Topics.Layout.LOCAL, new AvroSerdes(url));
            Topic<String, Prompt> topic = topics.prompts("arith");
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.getBootstrapServers()))) {
                new TopicProvisioner(admin, new SchemaRegistrar(url)).ensure(List.of(topic));
            }
            assertThat(new SchemaRegistrar(url).compatibility(topic.subject())).isEqualTo(SchemaRegistrar.COMPATIBILITY);
            Prompt sent = Prompt.newBuilder().setPromptId("p-1").setStream("arith").setPrompt("1+2=").setHumanResponse("3")
                    .setTask(TaskMetadata.newBuilder().setKind("addition").setVerifiable(true).build())
                    .setCreatedAt(Instant.ofEpochMilli(1_700_000_000_000L)).build();
            try (KafkaProducer<String, Prompt> producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                    kafka.getBootstrapServers()), topic.keySerde().serializer(), topic.valueSerde().serializer())) {
                producer.send(topic.record("p-1", sent)).get();
            }
            List<Prompt> read = new ArrayList<>();
            try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                    kafka.getBootstrapServers(), ConsumerConfig.GROUP_ID_CONFIG, "cp-test", ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"),
                    new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
                c.subscribe(List.of(topic.name()));
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (read.isEmpty() && System.nanoTime() < deadline) {
                    for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                        read.add(new Topics("cp", Topics.Layout.LOCAL, new AvroSerdes(url)).prompts("arith").deserializeValue(r.value()));
                    }
                }
            }
            assertThat(read).containsExactly(sent);
            ConfluentRegistryClient client = new ConfluentRegistryClient(RegistryAccess.of(url));
            assertThatThrownBy(() -> client.register(topic.subject(), SchemaBuilder.record("Prompt").namespace("io.spinstream.schemas")
                    .fields().requiredInt("prompt_id").endRecord())).isInstanceOf(SchemaRegistrar.IncompatibleSchemaException.class)
                    .hasMessageContaining("HTTP 409");
        }
    }
}
