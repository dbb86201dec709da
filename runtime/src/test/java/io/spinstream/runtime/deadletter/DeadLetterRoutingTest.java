package io.spinstream.runtime.deadletter;

import io.spinstream.devstack.DevStack;
import io.spinstream.devstack.BrokerTest;
import io.spinstream.runtime.kafka.KafkaSettings;
import io.spinstream.schemas.AvroSerdes;
import io.spinstream.schemas.DeadLetter;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SchemaRegistrar;
import io.spinstream.schemas.Topic;
import io.spinstream.schemas.TopicProvisioner;
import io.spinstream.schemas.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** A record that does not deserialize reaches the dead-letter topic with its origin, bytes and reason. */
@BrokerTest
class DeadLetterRoutingTest {
    private static final byte[] GARBAGE = "this is not avro".getBytes(StandardCharsets.UTF_8);
    private static DevStack stack;
    private static KafkaSettings kafka;

    @BeforeAll
    static void setUp(DevStack devStack) {
        stack = devStack;
        kafka = KafkaSettings.of(stack.bootstrapServers());
    }

    private static Topics catalogue() {
        Topics topics = new Topics("dlq-" + UUID.randomUUID().toString().substring(0, 8), new Topics.Layout(1, (short) 1),
                new AvroSerdes(stack.registryUrl()));
        try (Admin admin = Admin.create(kafka.admin())) {
            TopicProvisioner provisioner = new TopicProvisioner(admin, new SchemaRegistrar(stack.registryUrl()));
            provisioner.ensure(topics.fixed());
            provisioner.ensure(List.of(topics.prompts("arith")));
        }
        return topics;
    }

    private static Prompt prompt(String id) {
        return Prompt.newBuilder().setPromptId(id).setStream("arith").setPrompt(id + "=").setHumanResponse("1")
                .setCreatedAt(Instant.EPOCH).build();
    }

    /** Good, bad, good: in that order on one partition. */
    private static void produceGoodBadGood(Topic<String, Prompt> prompts) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(kafka.idempotentProducer())) {
            producer.send(new ProducerRecord<>(prompts.name(), bytes("p1"), prompts.serializeValue(prompt("p1")))).get();
            producer.send(new ProducerRecord<>(prompts.name(), bytes("bad"), GARBAGE)).get();
            producer.send(new ProducerRecord<>(prompts.name(), bytes("p2"), prompts.serializeValue(prompt("p2")))).get();
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void aConsumerSendsTheBadRecordToTheDeadLetterTopicAndKeepsGoing() throws Exception {
        Topics topics = catalogue();
        Topic<String, Prompt> prompts = topics.prompts("arith");
        produceGoodBadGood(prompts);

        String group = "dlq-consumer-" + UUID.randomUUID();
        RecordDecoder<String, Prompt> decoder = new RecordDecoder<>(t -> topics.prompts(topics.streamOf(t)),
                new DeadLetters(topics.deadLetters(), "test-service", Clock.systemUTC()));
        List<Prompt> read = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(kafka.readCommittedConsumer(group));
             KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(kafka.transactionalProducer("dlq-" + UUID.randomUUID()))) {
            producer.initTransactions();
            consumer.subscribe(topics.promptsPattern());
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (read.size() < 2 && System.nanoTime() < deadline) {
                var batch = consumer.poll(Duration.ofMillis(200));
                if (batch.isEmpty()) {
                    continue;
                }
                Decoded<String, Prompt> decoded = decoder.decode(batch);
                producer.beginTransaction();
                decoded.deadLetters().forEach(producer::send);
                Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                for (ConsumerRecord<byte[], byte[]> r : batch) {
                    offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                }
                producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
                producer.commitTransaction();
                decoded.records().forEach(r -> read.add(r.value()));
            }
        }
        assertThat(read).extracting(Prompt::getPromptId).containsExactly("p1", "p2");

        DeadLetter letter = readOnlyDeadLetter(topics);
        assertThat(letter.getTopic()).isEqualTo(prompts.name());
        assertThat(letter.getPartition()).isZero();
        assertThat(letter.getOffset()).isEqualTo(1L);
        assertThat(toArray(letter.getRawValue())).isEqualTo(GARBAGE);
        assertThat(toArray(letter.getRawKey())).isEqualTo(bytes("bad"));
        assertThat(letter.getService()).isEqualTo("test-service");
        assertThat(letter.getError()).startsWith("cannot deserialize:")
                .contains("not in the registry wire format: first byte is 0x74");

        try (Admin admin = Admin.create(kafka.admin())) {
            var committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            assertThat(committed.get(new TopicPartition(prompts.name(), 0)).offset())
                    .as("the bad record's offset is committed with its dead letter").isEqualTo(3L);
        }
    }

    @Test
    void kafkaStreamsSendsTheBadRecordToTheDeadLetterTopicUnderExactlyOnce(@TempDir Path stateDir) throws Exception {
        Topics topics = catalogue();
        Topic<String, Prompt> prompts = topics.prompts("arith");
        produceGoodBadGood(prompts);
        String out = topics.prefix() + ".ids";
        try (Admin admin = Admin.create(kafka.admin())) {
            admin.createTopics(List.of(new org.apache.kafka.clients.admin.NewTopic(out, 1, (short) 1))).all().get();
        }

        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(prompts.name(), Consumed.with(prompts.keySerde(), prompts.valueSerde()))
                .mapValues(Prompt::getPromptId)
                .to(out, Produced.with(Serdes.String(), Serdes.String()));
        Properties props = new Properties();
        props.putAll(kafka.exactlyOnceStreams("dlq-streams-" + UUID.randomUUID(), stateDir, (short) 1));
        props.putAll(DeadLetterDeserializationHandler.settings(topics.prefix(), io.spinstream.schemas.RegistryAccess.of(stack.registryUrl()), "test-streams"));
        List<String> ids = new ArrayList<>();
        try (KafkaStreams streams = new KafkaStreams(builder.build(), props);
             KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(kafka.readCommittedConsumer("out-" + UUID.randomUUID()))) {
            streams.start();
            consumer.subscribe(List.of(out));
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            while (ids.size() < 2 && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> ids.add(new String(r.value(), StandardCharsets.UTF_8)));
            }
        }
        assertThat(ids).containsExactly("p1", "p2");
        DeadLetter letter = readOnlyDeadLetter(topics);
        assertThat(letter.getTopic()).isEqualTo(prompts.name());
        assertThat(letter.getOffset()).isEqualTo(1L);
        assertThat(toArray(letter.getRawValue())).isEqualTo(GARBAGE);
        assertThat(letter.getService()).isEqualTo("test-streams");
        assertThat(letter.getError()).contains("cannot deserialize").contains("expected magic byte 0x00");
    }

    private static DeadLetter readOnlyDeadLetter(Topics topics) {
        List<DeadLetter> letters = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(kafka.readCommittedConsumer("dlq-reader-" + UUID.randomUUID()))) {
            consumer.subscribe(List.of(topics.deadLetters().name()));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            // Wait a little past the first letter to be sure there is no second one.
            long settle = Long.MAX_VALUE;
            while (System.nanoTime() < Math.min(deadline, settle)) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    letters.add(topics.deadLetters().deserializeValue(r.value()));
                    settle = System.nanoTime() + Duration.ofSeconds(2).toNanos();
                }
            }
        }
        assertThat(letters).hasSize(1);
        return letters.get(0);
    }

    private static byte[] toArray(java.nio.ByteBuffer buffer) {
        byte[] out = new byte[buffer.remaining()];
        buffer.duplicate().get(out);
        return out;
    }
}
