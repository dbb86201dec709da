package io.spinstream.trainer;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.spinstream.devstack.DevStack;
import io.spinstream.devstack.BrokerTest;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.health.MetricsServer;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.TrainingPair;
import io.spinstream.schemas.Verdict;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

@BrokerTest
class RejectionPolicyTest {

    private static void pairs(SpinFixtures f, int from, int n) throws Exception {
        try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(f.kafka.idempotentProducer())) {
            for (int i = from; i < from + n; i++) {
                TrainingPair t = TrainerServiceTest.pair(i, "base", 0, -9.5);
                p.send(new ProducerRecord<>(f.topics.pairs().name(), t.getPromptId().getBytes(StandardCharsets.UTF_8),
                        f.topics.pairs().serializeValue(t)));
            }
        }
    }

    private static void reject(SpinFixtures f, String checkpointId) throws Exception {
        Evaluation e = Evaluation.newBuilder().setCheckpointId(checkpointId).setBaselineId("base").setRound(0)
                .setMetrics(Map.of("heldout_nll", 2.0)).setBaselineMetrics(Map.of("heldout_nll", 1.0)).setHeldOutPrompts(30)
                .setVerdict(Verdict.REJECT).setReasons(List.of("worse")).setCreatedAt(Instant.now()).build();
        try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(f.kafka.idempotentProducer())) {
            p.send(new ProducerRecord<>(f.topics.evaluations().name(), checkpointId.getBytes(StandardCharsets.UTF_8),
                    f.topics.evaluations().serializeValue(e))).get();
        }
    }

    private static void await(Supplier<Boolean> condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.get() && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertThat(condition.get()).isTrue();
    }

    private static TrainerService start(SpinFixtures f, PrometheusMeterRegistry registry, Map<String, String> env) {
        ServiceConfig config = f.config(env);
        TrainerService t = new TrainerService(SpinContext.from(config), TrainerMain.settings(config), registry);
        t.start();
        return t;
    }

    @Test
    void rollbackResetsThetaToTheOpponentWithALowerLearningRate(DevStack stack, @TempDir Path dir) throws Exception {
        SpinFixtures f = TrainerServiceTest.fixtures(stack, dir);
        f.promote(f.checkpoint("base", 1), 0);
        pairs(f, 0, 12);
        PrometheusMeterRegistry registry = MetricsServer.newRegistry();
        TrainerService trainer = start(f, registry, Map.of("SPIN_TRAINER_REJECTION_POLICY", "rollback",
                "SPIN_TRAINER_REJECTION_ROLLBACK_AFTER", "1", "SPIN_TRAINER_REJECTION_LR_FACTOR", "0.5"));
        try {
            CheckpointEvent first = f.read(f.topics.checkpoints(), l -> !l.isEmpty(), Duration.ofSeconds(60)).get(0);
            assertThat(first.getTrainMetrics().get("lr")).isEqualTo(1e-3);
            reject(f, first.getCheckpointId());
            await(() -> registry.counter("spin.trainer.rollbacks").count() == 1);
            // No new pair: after the rollback the round's own pairs are trained again from θt.
            List<CheckpointEvent> all = f.read(f.topics.checkpoints(),
                    l -> l.stream().anyMatch(c -> c.getTrainMetrics().get("lr") == 5e-4), Duration.ofSeconds(60));
            CheckpointEvent after = all.stream().filter(c -> c.getTrainMetrics().get("lr") == 5e-4).findFirst().orElseThrow();
            assertThat(after.getTrainMetrics().get("pairs_trained"))
                    .isEqualTo(first.getTrainMetrics().get("pairs_trained") + 12);
            assertThat(after.getConsumedOffsets()).isEqualTo(first.getConsumedOffsets());
            assertThat(after.getStep()).as("steps go on after the rollback").isGreaterThan(first.getStep());
            assertThat(after.getCheckpointId()).isNotEqualTo(first.getCheckpointId());
            assertThat(registry.counter("spin.trainer.rejections").count()).isEqualTo(1);
        } finally {
            trainer.stop();
        }
        assertThat(trainer.failure()).isNull();
    }

    @Test
    void theStopPolicyEndsTrainingAsConverged(DevStack stack, @TempDir Path dir) throws Exception {
        SpinFixtures f = TrainerServiceTest.fixtures(stack, dir);
        f.promote(f.checkpoint("base", 1), 0);
        pairs(f, 0, 12);
        PrometheusMeterRegistry registry = MetricsServer.newRegistry();
        TrainerService trainer = start(f, registry, Map.of("SPIN_TRAINER_REJECTION_POLICY", "stop",
                "SPIN_TRAINER_REJECTION_STOP_AFTER", "1"));
        try {
            CheckpointEvent first = f.read(f.topics.checkpoints(), l -> !l.isEmpty(), Duration.ofSeconds(60)).get(0);
            reject(f, first.getCheckpointId());
            await(() -> registry.find("spin.trainer.converged").gauge().value() == 1.0);
            double trained = registry.counter("spin.trainer.pairs.trained").count();
            pairs(f, 100, 12);
            Thread.sleep(5000);
            assertThat(registry.counter("spin.trainer.pairs.trained").count()).as("nothing trained after the stop").isEqualTo(trained);
            assertThat(f.readAll(f.topics.checkpoints())).hasSize(1);
        } finally {
            trainer.stop();
        }
    }
}
