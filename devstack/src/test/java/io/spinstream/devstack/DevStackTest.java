package io.spinstream.devstack;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@BrokerTest
class DevStackTest {

    @Test
    void transactionalProduceIsReadCommittedOnTheRealBroker(DevStack stack) throws Exception {
        String topic = "devstack-tx-" + UUID.randomUUID();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1))).all().get();
        }
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers(),
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, "devstack-test-" + UUID.randomUUID()),
                new StringSerializer(), new StringSerializer())) {
            producer.initTransactions();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(topic, "a", "aborted"));
            producer.abortTransaction();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(topic, "b", "committed"));
            producer.commitTransaction();
        }
        List<String> seen = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, "devstack-test-" + UUID.randomUUID(),
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (seen.isEmpty() && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    seen.add(r.value());
                }
            }
        }
        assertThat(seen).containsExactly("committed");
    }

    @Test
    void registryAnswersTheConfluentApi(DevStack stack) throws Exception {
        HttpResponse<String> response = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create(stack.registryUrl() + "/subjects")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body().trim()).startsWith("[").endsWith("]");
        assertThat(stack.registry().isAlive()).isTrue();
        assertThat(stack.startupTime()).isLessThan(Duration.ofMinutes(3));
    }

    @Test
    void registryStopsWithoutLeavingAProcess() {
        // A second registry of its own, so the shared one stays up for the other tests.
        RegistryProcess registry = RegistryProcess.start();
        List<ProcessHandle> tree = new ArrayList<>(ProcessHandle.of(registry.pid()).orElseThrow().descendants().toList());
        assertThat(tree).as("the registry JVM under its watchdog").isNotEmpty();
        registry.close();
        assertThat(registry.isAlive()).isFalse();
        assertThat(tree).noneMatch(ProcessHandle::isAlive);
    }

    @Test
    void findsAJava21RuntimeAndSaysClearlyWhenThereIsNone(@org.junit.jupiter.api.io.TempDir Path empty) throws Exception {
        Optional<Path> java = new JavaRuntimes().find(21);
        assertThat(java).isPresent();
        assertThat(Files.isExecutable(java.get())).isTrue();

        Path fakeJdk = Files.createDirectories(empty.resolve("jdk-17/bin"));
        Files.writeString(empty.resolve("jdk-17/release"), "JAVA_VERSION=\"17.0.15\"\n");
        Files.createFile(fakeJdk.resolve("java")).toFile().setExecutable(true);
        assertThat(JavaRuntimes.featureVersion(empty.resolve("jdk-17"))).contains(17);
        JavaRuntimes none = new JavaRuntimes(Map.of("JAVA_HOME", empty.resolve("jdk-17").toString()), List.of(empty));
        assertThatThrownBy(() -> none.javaExecutable(999))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("no Java 999+ runtime found")
                .hasMessageContaining("JAVA_HOME is " + empty.resolve("jdk-17"));
    }
}
