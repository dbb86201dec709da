package io.spinstream.trainer;

import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.DevStack;
import io.spinstream.runtime.FaultPoints;
import io.spinstream.runtime.testing.ServiceProcess;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.Verdict;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The trainer killed with SIGKILL at its fault points, in a JVM of its own, and started again on the same
 * store: the round ends as an uninterrupted one does (every pair trained once: 44 pairs, consumed up to
 * offset 47, see {@link TrainerServiceTest}), and a rollback is not repeated.
 */
@BrokerTest
@Tag("fault")
class TrainerCrashTest {
    private static final String MAIN = TrainerMain.class.getName();
    /** A killed pair joiner leaves its group in seconds, not after the default 45 s session. */
    private static final Map<String, String> SHORT_SESSION = Map.of("SPIN_KAFKA_SESSION_TIMEOUT_MS", "6000");

    @ParameterizedTest
    @ValueSource(strings = {FaultPoints.TRAINER_CANDIDATE_WRITTEN, FaultPoints.TRAINER_CANDIDATE_RENAMED})
    void killedWhileSavingACandidateItResumesAndTrainsEveryPairOnce(String point, DevStack stack, @TempDir Path dir)
            throws Exception {
        SpinFixtures f = TrainerServiceTest.fixtures(stack, dir);
        f.promote(f.checkpoint("base", 1), 0);
        TrainerServiceTest.producePairs(f);
        try (ServiceProcess killed = ServiceProcess.start(MAIN, f.env(SHORT_SESSION), point, dir.resolve("1.log"))) {
            assertThat(killed.awaitExit(Duration.ofSeconds(180))).as(killed.tail(30)).isEqualTo(137);
        }
        List<CheckpointEvent> before = f.readAll(f.topics.checkpoints());
        assertThat(before).as("killed before its first candidate was announced").isEmpty();
        try (ServiceProcess again = ServiceProcess.start(MAIN, f.env(SHORT_SESSION), null, dir.resolve("2.log"))) {
            CheckpointEvent end = TrainerServiceTest.endOfRound(f, Duration.ofSeconds(180));
            assertThat(end.getTrainMetrics().get("pairs_trained")).as(again.tail(30)).isEqualTo(44.0);
            assertThat(end.getConsumedOffsets()).singleElement().satisfies(o -> assertThat(o.getOffset()).isEqualTo(47L));
            if (point.equals(FaultPoints.TRAINER_CANDIDATE_RENAMED)) {
                assertThat(again.log()).contains("resuming round 0 from");
            }
        }
        List<CheckpointEvent> events = f.readAll(f.topics.checkpoints());
        assertThat(events).extracting(CheckpointEvent::getCheckpointId).doesNotHaveDuplicates();
        try (Stream<Path> entries = Files.list(f.store.root())) {
            assertThat(entries.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")))
                    .as("every folder of the store is a complete checkpoint")
                    .allMatch(n -> Files.isRegularFile(f.store.root().resolve(n).resolve("spinstream.json")));
        }
    }

    @Test
    void killedRightAfterARollbackItDoesNotRollBackTwice(DevStack stack, @TempDir Path dir) throws Exception {
        SpinFixtures f = TrainerServiceTest.fixtures(stack, dir);
        f.promote(f.checkpoint("base", 1), 0);
        TrainerServiceTest.producePairs(f);
        Map<String, String> env = f.env(Map.of("SPIN_TRAINER_REJECTION_POLICY", "rollback",
                "SPIN_TRAINER_REJECTION_ROLLBACK_AFTER", "1", "SPIN_TRAINER_REJECTION_LR_FACTOR", "0.5",
                "SPIN_KAFKA_SESSION_TIMEOUT_MS", "6000"));
        try (ServiceProcess killed = ServiceProcess.start(MAIN, env, FaultPoints.TRAINER_ROLLED_BACK, dir.resolve("1.log"))) {
            CheckpointEvent first = TrainerServiceTest.endOfRound(f, Duration.ofSeconds(180));
            reject(f, first.getCheckpointId());
            assertThat(killed.awaitExit(Duration.ofSeconds(120))).as(killed.tail(30)).isEqualTo(137);
        }
        try (ServiceProcess again = ServiceProcess.start(MAIN, env, null, dir.resolve("2.log"))) {
            List<CheckpointEvent> events = f.read(f.topics.checkpoints(), l -> l.stream().anyMatch(e -> e.getEndOfRound()
                    && e.getTrainMetrics().getOrDefault("rejections_handled", 0.0) >= 1), Duration.ofSeconds(180));
            CheckpointEvent retrained = events.stream().filter(e -> e.getEndOfRound()
                    && e.getTrainMetrics().getOrDefault("rejections_handled", 0.0) >= 1).findFirst()
                    .orElseThrow(() -> new AssertionError("no end of the retrained pass: " + again.tail(30)));
            assertThat(retrained.getTrainMetrics().get("rejections_handled")).isEqualTo(1.0);
            assertThat(retrained.getTrainMetrics().get("lr")).as("halved once, not twice").isCloseTo(5e-4,
                    org.assertj.core.data.Offset.offset(1e-9));
            assertThat(retrained.getTrainMetrics().get("pairs_trained")).as("the pass, then the pass again once").isEqualTo(88.0);
            assertThat(retrained.getConsumedOffsets()).singleElement().satisfies(o -> assertThat(o.getOffset()).isEqualTo(47L));
            assertThat(again.log()).containsOnlyOnce("rolled back to opponent");
        }
    }

    private static void reject(SpinFixtures f, String candidate) throws Exception {
        Evaluation e = Evaluation.newBuilder().setCheckpointId(candidate).setBaselineId("base").setRound(0)
                .setSuite("nll+preference+exact_match").setMetrics(Map.of()).setBaselineMetrics(Map.of()).setHeldOutPrompts(10)
                .setVerdict(Verdict.REJECT).setReasons(List.of("rejected by the test")).setCreatedAt(Instant.now()).build();
        try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(f.kafka.idempotentProducer())) {
            p.send(f.topics.evaluations().rawRecord(candidate, e)).get();
        }
    }
}
