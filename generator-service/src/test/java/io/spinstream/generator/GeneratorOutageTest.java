package io.spinstream.generator;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.DevStack;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.health.MetricsServer;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Outages of the registry and of the broker while the generator answers: nothing becomes a dead letter,
 * the service stays live, and once the outage ends every training prompt is answered exactly once.
 */
@BrokerTest
@Tag("fault")
class GeneratorOutageTest {
    private static final HeldOutSplit SPLIT = new HeldOutSplit(0.2, "spin");

    private static List<Prompt> sums(String stream, int from, int to) {
        return IntStream.range(from, to).mapToObj(i -> SpinFixtures.prompt(stream, stream + "-" + i, i + "+" + (2 * i) + "=",
                String.valueOf(3 * i))).toList();
    }

    private static Set<String> trainIds(List<Prompt> prompts) {
        return prompts.stream().map(Prompt::getPromptId).filter(id -> !SPLIT.isHeldOut(id)).collect(Collectors.toSet());
    }

    private static GeneratorService start(SpinFixtures f, PrometheusMeterRegistry registry, Map<String, String> env) {
        ServiceConfig config = f.config(env);
        GeneratorService service = new GeneratorService(SpinContext.from(config), GeneratorMain.settings(config), registry);
        service.start();
        return service;
    }

    private static void awaitReady(GeneratorService service) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!service.isReady() && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertThat(service.isReady()).isTrue();
    }

    @Test
    void aRegistryOutageIsWaitedOutNotDeadLettered(DevStack stack, @TempDir Path dir) throws Exception {
        SpinFixtures f = GeneratorServiceTest.fixtures(stack, dir);
        f.promote(f.checkpoint("base", 1), 0);
        List<Prompt> prompts = sums("arith", 0, 20);
        // Serialized while the registry is up; written while it is down: the generator has never seen their schema
        // id, so it must ask the registry for it.
        List<ProducerRecord<byte[], byte[]>> records = prompts.stream()
                .map(p -> f.topics.prompts("arith").rawRecord(p.getPromptId(), p)).toList();
        PrometheusMeterRegistry registry = MetricsServer.newRegistry();
        GeneratorService service = start(f, registry, Map.of());
        try {
            awaitReady(service);
            stack.registry().stopServer();
            try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(f.kafka.idempotentProducer())) {
                records.forEach(producer::send);
                producer.flush();
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (registry.counter("spin.generator.transient.faults").count() < 2 && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertThat(registry.counter("spin.generator.transient.faults").count()).as("the outage was met").isGreaterThanOrEqualTo(2);
            assertThat(service.deadBecause()).as("live through the outage").isEmpty();
        } finally {
            stack.registry().startServer();
        }
        try {
            Set<String> expected = trainIds(prompts);
            List<SyntheticResponse> answers = f.answers(a -> a.size() >= expected.size(), Duration.ofSeconds(90));
            assertThat(f.readAll(f.topics.synthetic())).as("each exactly once")
                    .extracting(SyntheticResponse::getPromptId).containsExactlyInAnyOrderElementsOf(expected);
            assertThat(answers).hasSize(expected.size());
            assertThat(f.readAll(f.topics.deadLetters())).as("no dead letters").isEmpty();
            assertThat(registry.counter("spin.generator.dead.letters").count()).isZero();
        } finally {
            service.stop();
        }
        assertThat(service.failure()).isNull();
    }

    @Test
    void aBrokerOutageMidPassTimesOutCommitsThatAreTriedAgainNotAborted(DevStack stack, @TempDir Path dir) throws Exception {
        // Blocking calls give up after 2 s, so the outage is met as time-outs (the default waits a minute).
        brokerOutage(stack, dir, Map.of("SPIN_KAFKA_MAX_BLOCK_MS", "2000"), Duration.ofSeconds(8));
    }

    @Test
    void aBrokerOutageLongerThanTheTransactionTimeoutLosesAndRepeatsNothing(DevStack stack, @TempDir Path dir) throws Exception {
        // The coordinator aborts a transaction open for 5 s: the outage outlasts the one in flight.
        brokerOutage(stack, dir, Map.of("SPIN_KAFKA_MAX_BLOCK_MS", "2000", "SPIN_TRANSACTION_TIMEOUT_MS", "5000"),
                Duration.ofSeconds(12));
    }

    /** The broker stopped for {@code down} once 40 answers are in; afterwards every prompt answered once. */
    private static void brokerOutage(DevStack stack, Path dir, Map<String, String> env, Duration down) throws Exception {
        SpinFixtures f = GeneratorServiceTest.fixtures(stack, dir);
        f.promote(f.checkpoint("base", 1), 0);
        List<Prompt> prompts = sums("arith", 0, 600);
        f.produce("arith", prompts, List.of());
        PrometheusMeterRegistry registry = MetricsServer.newRegistry();
        Map<String, String> all = new java.util.HashMap<>(env);
        all.put("SPIN_GENERATOR_BATCH_SIZE", "4");
        GeneratorService service = start(f, registry, all);
        Set<String> expected = trainIds(prompts);
        try {
            f.answers(a -> a.size() >= 40, Duration.ofSeconds(90));
            stack.broker().stopServer();
            Thread.sleep(down.toMillis());
            assertThat(service.deadBecause()).as("live through the outage").isEmpty();
        } finally {
            stack.broker().startServer();
        }
        try {
            List<SyntheticResponse> answers = f.answers(a -> a.size() >= expected.size(), Duration.ofSeconds(180));
            assertThat(service.deadBecause()).as("%s", service.failure()).isEmpty();
            assertThat(f.readAll(f.topics.synthetic())).as("each exactly once")
                    .extracting(SyntheticResponse::getPromptId).containsExactlyInAnyOrderElementsOf(expected);
            assertThat(answers.size()).isEqualTo(expected.size());
        } finally {
            service.stop();
        }
        assertThat(service.failure()).isNull();
    }
}
