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
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** A stack that keeps its data: started again on the same folder it has its topics, records and schema ids. */
@BrokerTest
class DevStackDataTest {
    private static final String SCHEMA = "{\"schema\": \"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"Kept\\\","
            + "\\\"fields\\\":[{\\\"name\\\":\\\"a\\\",\\\"type\\\":\\\"string\\\"}]}\"}";

    @Test
    void aStackStartedAgainOnItsDataFolderHasItsTopicsRecordsAndSchemaIds(@TempDir Path data) throws Exception {
        String bootstrap;
        String registry;
        int id;
        try (DevStack first = DevStack.start(data)) {
            bootstrap = first.bootstrapServers();
            registry = first.registryUrl();
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
                admin.createTopics(List.of(new NewTopic("kept", 1, (short) 1))).all().get();
            }
            produceCommitted(bootstrap, "before");
            id = register(registry);
            // The registry alone stopped and started (an outage): its schemas are still there.
            first.registry().stopServer();
            assertThat(first.registry().isAlive()).isFalse();
            first.registry().startServer();
            assertThat(schemaById(registry, id)).as("schema %d after a registry restart", id).contains("Kept");
            // The broker alone stopped and started on its log and port.
            first.broker().stopServer();
            first.broker().startServer();
            produceCommitted(bootstrap, "after a broker restart");
        }
        try (DevStack again = DevStack.start(data)) {
            assertThat(again.bootstrapServers()).as("the same ports while they are free").isEqualTo(bootstrap);
            assertThat(again.registryUrl()).isEqualTo(registry);
            assertThat(readCommitted(bootstrap)).containsExactly("before", "after a broker restart");
            assertThat(schemaById(registry, id)).contains("Kept");
            assertThat(register(registry)).as("the same schema keeps its id").isEqualTo(id);
        }
    }

    private static void produceCommitted(String bootstrap, String value) {
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, "kept-" + value.hashCode()),
                new StringSerializer(), new StringSerializer())) {
            producer.initTransactions();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>("kept", "k", value));
            producer.commitTransaction();
        }
    }

    private static List<String> readCommitted(String bootstrap) {
        List<String> seen = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.GROUP_ID_CONFIG, "kept-reader",
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of("kept"));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (seen.size() < 2 && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    seen.add(r.value());
                }
            }
        }
        return seen;
    }

    private static int register(String registry) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create(registry + "/subjects/kept-value/versions"))
                .header("Content-Type", "application/vnd.schemaregistry.v1+json")
                .POST(HttpRequest.BodyPublishers.ofString(SCHEMA)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return Integer.parseInt(r.body().replaceAll("[^0-9]", ""));
    }

    private static String schemaById(String registry, int id) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create(registry + "/schemas/ids/" + id)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return r.body();
    }
}
