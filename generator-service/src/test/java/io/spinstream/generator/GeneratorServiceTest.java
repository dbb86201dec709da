package io.spinstream.generator;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.spinstream.devstack.DevStack;
import io.spinstream.devstack.BrokerTest;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.health.MetricsServer;
import io.spinstream.schemas.DeadLetter;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

@BrokerTest
class GeneratorServiceTest {
    private static final HeldOutSplit SPLIT = new HeldOutSplit(0.2, "spin");

    private static List<Prompt> sums(String stream, int n) {
        return IntStream.range(0, n).mapToObj(i -> SpinFixtures.prompt(stream, stream + "-" + i, i + "+" + (2 * i) + "=",
                String.valueOf(3 * i))).toList();
    }

    private static Set<String> trainIds(List<Prompt> prompts) {
        return prompts.stream().map(Prompt::getPromptId).filter(id -> !SPLIT.isHeldOut(id)).collect(Collectors.toSet());
    }

    private static GeneratorService start(SpinFixtures f, PrometheusMeterRegistry registry) {
        ServiceConfig config = f.config(Map.of());
        GeneratorService service = new GeneratorService(SpinContext.from(config), GeneratorMain.settings(config), registry);
        service.start();
        return service;
    }

    @Test
    void answersEveryTrainingPromptOnceDeadLettersBadOnesAndPicksUpNewStreams(DevStack stack, @TempDir Path dir) throws Exception {
        SpinFixtures f = fixtures(stack, dir);
        CheckpointMetadata base = f.checkpoint("base", 1);
        f.promote(base, 0);
        List<Prompt> prompts = sums("arith", 30);
        Prompt empty = SpinFixtures.prompt("arith", "empty", "   ", "0");
        Prompt tooLong = SpinFixtures.prompt("arith", "long", "9".repeat(70) + "+1=", "1");
        List<Prompt> all = new ArrayList<>(prompts);
        all.addAll(List.of(empty, tooLong));
        f.produce("arith", all, List.of("not avro at all".getBytes(StandardCharsets.UTF_8)));
        // A record whose key is not its prompt_id: answered, its answer (keyed by prompt_id) would join another text.
        try (org.apache.kafka.clients.producer.KafkaProducer<byte[], byte[]> p = new org.apache.kafka.clients.producer.KafkaProducer<>(
                f.kafka.idempotentProducer())) {
            p.send(new org.apache.kafka.clients.producer.ProducerRecord<>(f.topics.prompts("arith").name(),
                    "mismatch".getBytes(StandardCharsets.UTF_8),
                    f.topics.prompts("arith").serializeValue(SpinFixtures.prompt("arith", "p-other", "3+3=", "6")))).get();
        }

        PrometheusMeterRegistry registry = MetricsServer.newRegistry();
        GeneratorService service = start(f, registry);
        try {
            Set<String> expected = trainIds(prompts);
            List<SyntheticResponse> answers = f.answers(a -> a.size() >= expected.size(), Duration.ofSeconds(90));
            assertThat(answers).extracting(SyntheticResponse::getPromptId).containsExactlyInAnyOrderElementsOf(expected);
            for (SyntheticResponse a : answers) {
                assertThat(a.getOpponentId()).isEqualTo("base");
                assertThat(a.getRound()).isZero();
                assertThat(a.getOpponentLogpHuman()).isNegative().isFinite();
                assertThat(a.getOpponentLogpSynthetic()).isNegative().isFinite();
                assertThat(a.getResponseTokens()).isBetween(0, 8);
                assertThat(a.getSampling().getTemperature()).isEqualTo(1.0f);
            }
            assertThat(service.isReady()).isTrue();

            List<DeadLetter> letters = f.deadLetters(4, Duration.ofSeconds(30));
            Map<String, String> reasons = letters.stream().collect(Collectors.toMap(
                    d -> new String(bytes(d.getRawKey()), StandardCharsets.UTF_8), DeadLetter::getError));
            assertThat(reasons).containsOnlyKeys("raw", "empty", "long", "mismatch");
            assertThat(reasons.get("mismatch")).isEqualTo("record key 'mismatch' is not the prompt's prompt_id 'p-other'");
            assertThat(reasons.get("raw")).contains("not in the registry wire format");
            assertThat(reasons.get("empty")).isEqualTo("empty prompt");
            assertThat(reasons.get("long")).contains("exceeds the model's context of 64 positions");

            // A stream created while the service runs is picked up by the pattern subscription.
            f.provision(List.of("fresh"));
            List<Prompt> fresh = sums("fresh", 6);
            f.produce("fresh", fresh, List.of());
            Set<String> both = new java.util.HashSet<>(expected);
            both.addAll(trainIds(fresh));
            List<SyntheticResponse> later = f.answers(a -> a.size() >= both.size(), Duration.ofSeconds(60));
            assertThat(later).extracting(SyntheticResponse::getPromptId).containsExactlyInAnyOrderElementsOf(both);

            // A stream written in a transaction ends in a commit marker: the pass is still complete (lag 0),
            // which is how the trainer tells that a round's generation is done.
            List<Prompt> txn = sums("txn", 5);
            new io.spinstream.runtime.kafka.PromptPublisher(io.spinstream.runtime.SpinContext.from(f.config(Map.of())))
                    .publish("txn", txn, n -> {
                    });
            both.addAll(trainIds(txn));
            f.answers(a -> a.size() >= both.size(), Duration.ofSeconds(60));
            try (org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(f.kafka.admin())) {
                long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                List<org.apache.kafka.common.TopicPartition> left;
                do {
                    Thread.sleep(300);
                    left = io.spinstream.runtime.kafka.GenerationPass.unfinished(admin, f.topics, 0);
                } while (!left.isEmpty() && System.nanoTime() < deadline);
                assertThat(left).as("prompt partitions the round-0 group has not committed to their end").isEmpty();
            }

            // An interrupted `prompts add`: a stream whose partitions hold only an aborted transaction. The pass
            // must still end (the group commits past records it never sees), or the round would never end.
            f.provision(List.of("aborted"));
            try (org.apache.kafka.clients.producer.KafkaProducer<byte[], byte[]> p = new org.apache.kafka.clients.producer.KafkaProducer<>(
                    f.kafka.transactionalProducer("test-abort-" + f.prefix))) {
                p.initTransactions();
                p.beginTransaction();
                for (Prompt q : sums("aborted", 8)) {
                    p.send(f.topics.prompts("aborted").rawRecord(q.getPromptId(), q));
                }
                p.flush();
                p.abortTransaction();
            }
            try (org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(f.kafka.admin())) {
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                List<org.apache.kafka.common.TopicPartition> left;
                do {
                    Thread.sleep(300);
                    left = io.spinstream.runtime.kafka.GenerationPass.unfinished(admin, f.topics, 0);
                } while (!left.isEmpty() && System.nanoTime() < deadline);
                assertThat(left).as("partitions holding only an aborted transaction, committed past").isEmpty();
            }
            List<SyntheticResponse> committed = f.readAll(f.topics.synthetic());
            assertThat(committed).as("nothing answered from the aborted records").hasSize(both.size());
            // The prompts are verifiable: every answer is rewarded by the verifier, the sum counts the right ones.
            assertThat(registry.counter("spin.generator.answers.rewarded").count()).isEqualTo(both.size());
            assertThat(registry.counter("spin.generator.answers.reward.sum").count())
                    .isEqualTo(committed.stream().mapToDouble(SyntheticResponse::getReward).sum())
                    .isEqualTo((double) committed.stream().filter(a -> a.getReward() == 1.0).count());

            String scrape = registry.scrape();
            assertThat(scrape).contains("spin_generator_prompts_answered_total")
                    .contains("spin_generator_opponent_round")
                    .contains("kafka_consumer_fetch_manager_records_lag_max");
            assertThat(registry.counter("spin.generator.prompts.answered").count()).isEqualTo(both.size());
            assertThat(registry.counter("spin.generator.dead.letters").count()).isEqualTo(4);
        } finally {
            service.stop();
        }
        assertThat(service.failure()).isNull();
    }

    @Test
    void aPromotionStartsAFullPassWithTheNewOpponentAndACorruptOneIsRefused(DevStack stack, @TempDir Path dir) throws Exception {
        SpinFixtures f = fixtures(stack, dir);
        f.promote(f.checkpoint("base", 1), 0);
        List<Prompt> prompts = sums("arith", 12);
        f.produce("arith", prompts, List.of());
        Set<String> expected = trainIds(prompts);
        PrometheusMeterRegistry registry = MetricsServer.newRegistry();
        GeneratorService service = start(f, registry);
        try {
            f.answers(a -> a.size() >= expected.size(), Duration.ofSeconds(90));
            CheckpointMetadata next = f.checkpoint("round1", 2);
            long promotedAt = System.nanoTime();
            f.promote(next, 1);
            Function<List<SyntheticResponse>, List<SyntheticResponse>> round1 =
                    a -> a.stream().filter(r -> r.getRound() == 1).toList();
            List<SyntheticResponse> first = f.answers(a -> !round1.apply(a).isEmpty(), Duration.ofSeconds(60));
            double latency = (System.nanoTime() - promotedAt) / 1e9;
            System.out.printf("promotion to first answer from the new opponent: %.2f s%n", latency);
            assertThat(round1.apply(first)).isNotEmpty();
            List<SyntheticResponse> all = f.answers(a -> round1.apply(a).size() >= expected.size(), Duration.ofSeconds(90));
            assertThat(round1.apply(all)).extracting(SyntheticResponse::getPromptId).containsExactlyInAnyOrderElementsOf(expected);
            assertThat(round1.apply(all)).allMatch(r -> r.getOpponentId().equals("round1"));

            // A corrupt checkpoint: refused by its checksum, and no answer comes from it.
            CheckpointMetadata bad = f.checkpoint("round2", 3);
            Path weights = f.store.directoryOf("round2").resolve("model.safetensors");
            byte[] b = Files.readAllBytes(weights);
            b[b.length - 1] ^= 0x10;
            Files.write(weights, b);
            f.promote(bad, 2);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (registry.counter("spin.generator.opponent.refused").count() < 1 && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertThat(service.isReady()).isFalse();
            f.produce("arith", sums("arith", 14).subList(12, 14), List.of());
            List<SyntheticResponse> after = f.readAllAfter(f.topics.synthetic(), Duration.ofSeconds(3));
            assertThat(after).noneMatch(r -> r.getRound() == 2 || r.getOpponentId().equals("round2"));
            assertThat(registry.counter("spin.generator.opponent.refused").count()).as("tried again, backing off")
                    .isBetween(2.0, 6.0);

            // The right bytes arrive late (a copy to a shared volume that had not finished): the next try loads it.
            b[b.length - 1] ^= 0x10;
            Files.write(weights, b);
            Set<String> all14 = trainIds(sums("arith", 14));
            List<SyntheticResponse> fixed = f.answers(a -> a.stream().filter(r -> r.getRound() == 2).count() >= all14.size(),
                    Duration.ofSeconds(90));
            assertThat(fixed.stream().filter(r -> r.getRound() == 2)).extracting(SyntheticResponse::getPromptId)
                    .containsExactlyInAnyOrderElementsOf(all14);
            assertThat(service.isReady()).isTrue();
        } finally {
            service.stop();
        }
    }

    static byte[] bytes(java.nio.ByteBuffer buffer) {
        byte[] out = new byte[buffer.remaining()];
        buffer.duplicate().get(out);
        return out;
    }

    static SpinFixtures fixtures(DevStack stack, Path dir) {
        return new SpinFixtures(stack, dir.resolve("store"), GeneratorKeys.all(), java.util.Map.of(
                "SPIN_GENERATOR_BATCH_SIZE", "8",
                "SPIN_GENERATOR_BATCH_WAIT_MS", "100",
                "SPIN_GENERATOR_MAX_NEW_TOKENS", "8",
                "SPIN_HELDOUT_SHARE", "0.2"));
    }
}
