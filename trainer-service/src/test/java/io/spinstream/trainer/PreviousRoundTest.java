package io.spinstream.trainer;

import ai.djl.ndarray.NDManager;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.spinstream.devstack.DevStack;
import io.spinstream.devstack.BrokerTest;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.health.MetricsServer;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.TrainingPair;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Round t trains on round t−1's pairs too when asked, with their references re-scored under θt. */
@BrokerTest
class PreviousRoundTest {

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void roundOneTrainsOnRoundZerosPairsOnlyWhenAsked(boolean includePrevious, DevStack stack, @TempDir Path dir) throws Exception {
        SpinFixtures f = TrainerServiceTest.fixtures(stack, dir);
        String pairsPartition = f.topics.pairs().name() + "-0";
        // base: round 0's opponent. c1: trained by round 0 on the first 6 pairs, promoted to round 1.
        try (NDManager m = NDManager.newBaseManager(); LlamaModel model = SpinFixtures.tinyModel(m, 1)) {
            f.promote(f.checkpoint("base", null, model), 0);
            CheckpointMetadata c1 = f.store.save(model, f.tokenizerOf("base"),
                    CheckpointMetadata.of("c1", "base", 0, 2, Map.of(), Map.of(pairsPartition, 6L)));
            f.promote(c1, 1);
        }
        try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(f.kafka.idempotentProducer())) {
            for (int i = 0; i < 14; i++) {
                // offsets 0-9: round 0 (written by base), 10-13: round 1 (written by c1)
                TrainingPair t = i < 10 ? TrainerServiceTest.pair(i, "base", 0, -9.5) : TrainerServiceTest.pair(i, "c1", 1, -9.5);
                p.send(new ProducerRecord<>(f.topics.pairs().name(), t.getPromptId().getBytes(StandardCharsets.UTF_8),
                        f.topics.pairs().serializeValue(t)));
            }
        }
        ServiceConfig config = f.config(Map.of("SPIN_TRAINER_INCLUDE_PREVIOUS_ROUND", Boolean.toString(includePrevious)));
        PrometheusMeterRegistry registry = MetricsServer.newRegistry();
        TrainerService trainer = new TrainerService(SpinContext.from(config), TrainerMain.settings(config), registry);
        trainer.start();
        try {
            CheckpointEvent end = f.read(f.topics.checkpoints(), l -> l.stream().anyMatch(CheckpointEvent::getEndOfRound),
                    Duration.ofSeconds(60)).stream().filter(CheckpointEvent::getEndOfRound).findFirst().orElseThrow();
            assertThat(end.getParentOpponentId()).isEqualTo("c1");
            assertThat(end.getRound()).isEqualTo(1);
            if (includePrevious) {
                // All of round 0's pairs (base's pair 0-9, from base's start), re-scored, plus round 1's.
                assertThat(end.getTrainMetrics().get("pairs_trained")).isEqualTo(14.0);
                assertThat(registry.counter("spin.trainer.pairs.rescored").count()).isEqualTo(10);
            } else {
                // From c1's offsets: round 0's late pairs 6-9 are stale, round 1's 4 are trained.
                assertThat(end.getTrainMetrics().get("pairs_trained")).isEqualTo(4.0);
                assertThat(registry.counter("spin.trainer.pairs.stale").count()).isEqualTo(4);
                assertThat(registry.counter("spin.trainer.pairs.rescored").count()).isZero();
            }
            assertThat(end.getConsumedOffsets().get(0).getOffset()).isEqualTo(14L);
        } finally {
            trainer.stop();
        }
        assertThat(trainer.failure()).isNull();
    }
}
