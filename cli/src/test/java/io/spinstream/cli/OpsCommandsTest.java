package io.spinstream.cli;

import io.spinstream.runtime.kafka.ConsumerLag;
import io.spinstream.devstack.DevStack;
import io.spinstream.devstack.BrokerTest;
import io.spinstream.runtime.kafka.KafkaSettings;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import io.spinstream.runtime.config.RoundKeys;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.Verdict;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import java.time.Instant;
import java.nio.file.StandardOpenOption;

import static org.assertj.core.api.Assertions.assertThat;

/** The operator commands against the real broker and registry. */
@BrokerTest
class OpsCommandsTest {
    private static CommandRun spin(String... args) {
        return CommandRun.spin(args);
    }

    private static String[] concat(String[] a, String[] b) {
        return CommandRun.concat(a, b);
    }


    @Test
    void promptsAreAddedWholeOrNotAtAllAndListedWithTheirCounts(DevStack stack, @TempDir Path dir) throws Exception {
        String prefix = "ops" + UUID.randomUUID().toString().substring(0, 6);
        String[] cluster = {"--bootstrap", stack.bootstrapServers(), "--registry", stack.registryUrl(), "--prefix", prefix};
        Path bad = Files.writeString(dir.resolve("bad.jsonl"), """
                {"prompt_id": "a1", "prompt": "1+1=", "human_response": "2"}
                {"prompt_id": "a2", "human_response": "4"}
                not json
                {"prompt_id": "a1", "prompt": "3+3=", "human_response": "6"}
                """ + "{\"prompt_id\": \"big\", \"prompt\": \"" + "9".repeat(2 << 20) + "\", \"human_response\": \"1\"}\n");
        // An overlong encoding of '/' (C0 AF): not UTF-8, named by its line and byte.
        Files.write(bad, new byte[]{'{', '"', 'p', '"', ':', ' ', '"', (byte) 0xC0, (byte) 0xAF, '"', '}', '\n'},
                StandardOpenOption.APPEND);
        CommandRun refused = spin(concat(new String[]{"prompts", "add", "--stream", "arith", "--file", bad.toString()}, cluster));
        assertThat(refused.exit()).isEqualTo(1);
        assertThat(refused.err()).contains("has 5 bad line(s); nothing was written")
                .contains("line 2: prompt is missing")
                .contains("line 3: not JSON")
                .contains("line 4: prompt_id 'a1' is also on line 1 with other content")
                .contains("line 6: not UTF-8 at byte 8 of the line")
                .containsPattern("line 5: the record is 2,0\\d\\d,\\d\\d\\d bytes; the topic takes at most 1,04\\d,\\d\\d\\d");
        try (Admin admin = Admin.create(KafkaSettings.of(stack.bootstrapServers()).admin())) {
            assertThat(admin.listTopics().names().get()).doesNotContain(prefix + ".prompts.arith");
        }

        StringBuilder good = new StringBuilder();
        for (int i = 0; i < 25; i++) {
            good.append("{\"prompt_id\": \"s").append(i).append("\", \"prompt\": \"").append(i).append("+1=\", \"human_response\": \"")
                    .append(i + 1).append("\", \"task\": {\"kind\": \"addition\", \"verifiable\": true}}\n");
        }
        good.append(good.substring(0, good.indexOf("\n") + 1)); // an exact repeat: published once, counted
        Path file = Files.writeString(dir.resolve("good.jsonl"), good);
        CommandRun added = spin(concat(new String[]{"prompts", "add", "--stream", "arith", "--file", file.toString()}, cluster));
        assertThat(added.exit()).as(added.err()).isZero();
        assertThat(added.out()).contains("added 25 prompts to " + prefix + ".prompts.arith (1 exact duplicate skipped)");
        CommandRun listed = spin(concat(new String[]{"prompts", "list"}, cluster));
        assertThat(listed.out()).containsPattern("arith\\s+" + prefix.replace(".", "\\.") + "\\.prompts\\.arith\\s+25\\s+25");
    }

    @Test
    void lagEqualsKafkasOwnTool(DevStack stack) throws Exception {
        KafkaSettings kafka = KafkaSettings.of(stack.bootstrapServers());
        String topic = "lag-" + UUID.randomUUID();
        String group = "lag-group-" + UUID.randomUUID();
        try (Admin admin = Admin.create(kafka.admin())) {
            admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1))).all().get();
        }
        try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(kafka.idempotentProducer())) {
            for (int i = 0; i < 20; i++) {
                p.send(new ProducerRecord<>(topic, i % 2, null, ("v" + i).getBytes(StandardCharsets.UTF_8)));
            }
        }
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(kafka.readCommittedConsumer(group))) {
            c.commitSync(Map.of(new TopicPartition(topic, 0), new OffsetAndMetadata(3),
                    new TopicPartition(topic, 1), new OffsetAndMetadata(8)));
        }
        List<ConsumerLag.PartitionLag> ours;
        try (Admin admin = Admin.create(kafka.admin())) {
            ours = ConsumerLag.of(admin, group);
        }
        assertThat(ours).extracting(ConsumerLag.PartitionLag::lag).containsExactly(7L, 2L);

        // Kafka's own kafka-consumer-groups --describe, as a separate JVM.
        String java = ProcessHandle.current().info().command().orElseThrow();
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Process tool = new ProcessBuilder(java, "-cp", classpath, "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                "--bootstrap-server", stack.bootstrapServers(), "--describe", "--group", group).redirectErrorStream(true).start();
        String output = new String(tool.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(tool.waitFor(60, TimeUnit.SECONDS)).isTrue();
        List<long[]> theirs = new ArrayList<>();
        for (String line : output.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 6 && f[0].equals(group) && f[1].equals(topic)) {
                theirs.add(new long[]{Long.parseLong(f[2]), Long.parseLong(f[3]), Long.parseLong(f[4]), Long.parseLong(f[5])});
            }
        }
        theirs.sort(Comparator.comparingLong(a -> a[0]));
        assertThat(theirs).as(output).hasSize(2);
        for (int i = 0; i < 2; i++) {
            ConsumerLag.PartitionLag r = ours.get(i);
            assertThat(new long[]{r.partition(), r.committed(), r.logEnd(), r.lag()}).containsExactly(theirs.get(i));
        }
        // A bootstrap address is all it needs, as Kafka's own tool.
        CommandRun printed = spin("lag", "--bootstrap", stack.bootstrapServers(), "--group", group);
        assertThat(printed.out()).contains(topic).contains("total lag 9");
    }

    @Test
    void checkpointsAndStatusShowTheRun(DevStack stack, @TempDir Path dir) throws Exception {
        SpinFixtures f = new SpinFixtures(stack, dir.resolve("store"), RoundKeys.all(), Map.of());
        f.promote(f.checkpoint("base", 1), 0);
        f.produce("arith", IntStream.range(0, 10).mapToObj(i -> SpinFixtures.prompt("arith", "p" + i, i + "=", "" + i)).toList(),
                List.of());
        // The round's generator group has read 1 record of every non-empty partition.
        try (Admin admin = Admin.create(f.kafka.admin());
             KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(f.kafka.readCommittedConsumer(f.prefix + "-generator-r0"))) {
            String topic = f.topics.prompts("arith").name();
            var ends = c.endOffsets(IntStream.range(0, 4).mapToObj(i -> new TopicPartition(topic, i)).toList());
            Map<TopicPartition, OffsetAndMetadata> commit = new java.util.HashMap<>();
            ends.forEach((tp, end) -> {
                if (end > 0) {
                    commit.put(tp, new OffsetAndMetadata(1));
                }
            });
            c.commitSync(commit);
        }
        CheckpointEvent event = CheckpointEvent.newBuilder().setCheckpointId("c1").setParentOpponentId("base").setRound(0)
                .setStep(5).setUri("file:/x").setSha256("00").setTrainMetrics(Map.of("loss", 0.6931))
                .setCreatedAt(Instant.now()).build();
        Evaluation verdict = Evaluation.newBuilder().setCheckpointId("c1").setBaselineId("base").setRound(0)
                .setMetrics(Map.of()).setBaselineMetrics(Map.of()).setHeldOutPrompts(30).setVerdict(Verdict.REJECT)
                .setReasons(List.of("heldout_nll did not improve enough")).setCreatedAt(Instant.now()).build();
        try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(f.kafka.idempotentProducer())) {
            p.send(new ProducerRecord<>(f.topics.checkpoints().name(), "c1".getBytes(StandardCharsets.UTF_8),
                    f.topics.checkpoints().serializeValue(event))).get();
            p.send(new ProducerRecord<>(f.topics.evaluations().name(), "c1".getBytes(StandardCharsets.UTF_8),
                    f.topics.evaluations().serializeValue(verdict))).get();
        }
        String[] cluster = {"--bootstrap", stack.bootstrapServers(), "--registry", stack.registryUrl(), "--prefix", f.prefix};
        CommandRun checkpoints = spin(concat(new String[]{"checkpoints"}, cluster));
        assertThat(checkpoints.exit()).as(checkpoints.err()).isZero();
        assertThat(checkpoints.out()).containsPattern("c1\\s+0\\s+5\\s+base\\s+0\\.6931\\s+all:REJECT \\[heldout_nll did not improve enough]");

        CommandRun status = spin(concat(new String[]{"status", "--run", f.runId}, cluster));
        assertThat(status.out()).as(status.err())
                .contains("run " + f.runId + ": opponent base, round 0")
                .containsPattern("generation \\(group " + f.prefix + "-generator-r0\\): \\d+ of 10 prompt records read, lag \\d+")
                .contains("trainer: step 5, newest candidate c1")
                .contains("verdict: c1 REJECT (all)");
    }

}
