package io.spinstream.evaluator;

import ai.djl.ndarray.NDManager;
import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.DevStack;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.runtime.FaultPoints;
import io.spinstream.runtime.testing.ServiceProcess;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.Verdict;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The evaluator killed with SIGKILL at its fault points, in a JVM of its own, and started again: one
 * evaluation per candidate and suite, one promotion per round, none lost.
 */
@BrokerTest
@Tag("fault")
class EvaluatorCrashTest {
    private static final String MAIN = EvaluatorMain.class.getName();

    private record Setting(SpinFixtures f, CheckpointMetadata better) {
    }

    private static Setting setting(DevStack stack, Path dir, Map<String, String> env) throws Exception {
        Map<String, String> all = new java.util.HashMap<>(Map.of(
                "SPIN_HELDOUT_SHARE", "0.5", "SPIN_GATE_MIN_PROMPTS", "10", "SPIN_EVALUATOR_MAX_NEW_TOKENS", "6",
                "SPIN_GATE_GUARDS", "",
                "SPIN_KAFKA_SESSION_TIMEOUT_MS", "6000")); // a killed member leaves its group in seconds, not 45
        all.putAll(env);
        SpinFixtures f = new SpinFixtures(stack, dir.resolve("store"), EvaluatorKeys.all(), all);
        List<Prompt> heldOut = EvaluatorServiceTest.produceSums(f);
        CheckpointMetadata base;
        CheckpointMetadata better;
        try (NDManager m = NDManager.newBaseManager()) {
            try (LlamaModel model = SpinFixtures.tinyModel(m, 1)) {
                base = f.checkpoint("base", null, model);
            }
            better = f.checkpoint("better", "base", EvaluatorServiceTest.fineTuned(f, m, heldOut, false));
        }
        f.promote(base, 0);
        return new Setting(f, better);
    }

    @Test
    void killedBeforeItsCommitItEvaluatesTheCandidateOnceAfterTheRestart(DevStack stack, @TempDir Path dir) throws Exception {
        Setting s = setting(stack, dir, Map.of());
        SpinFixtures f = s.f();
        EvaluatorServiceTest.publish(f, EvaluatorServiceTest.event(f, s.better(), "base"));
        try (ServiceProcess killed = ServiceProcess.start(MAIN, f.env(Map.of()), FaultPoints.EVALUATOR_SENT, dir.resolve("1.log"))) {
            assertThat(killed.awaitExit(Duration.ofSeconds(180))).as(killed.tail(30)).isEqualTo(137);
        }
        assertThat(f.readAll(f.topics.evaluations())).as("the aborted evaluation is not visible")
                .isEmpty();
        try (ServiceProcess again = ServiceProcess.start(MAIN, f.env(Map.of()), null, dir.resolve("2.log"))) {
            f.read(f.topics.opponent(), l -> l.size() >= 2, Duration.ofSeconds(180));
            List<Evaluation> evs = f.readAllAfter(f.topics.evaluations(), Duration.ofSeconds(3));
            assertThat(evs).as(again.tail(30)).singleElement()
                    .satisfies(e -> assertThat(e.getVerdict()).isEqualTo(Verdict.PROMOTE));
            assertThat(f.readAll(f.topics.opponent()))
                    .extracting(OpponentPromotion::getCheckpointId).containsExactly("base", "better");
        }
    }

    @Test
    void killedWhileAPassingCandidateWaitsForAnotherSuiteItPromotesItAfterTheRestart(DevStack stack, @TempDir Path dir)
            throws Exception {
        Setting s = setting(stack, dir, Map.of("SPIN_EVALUATOR_REQUIRED_SUITES", "nll,exact_match"));
        SpinFixtures f = s.f();
        // The evaluator of nll promotes (its suite is the last required one); it finishes first and waits.
        Map<String, String> nll = f.env(Map.of("SPIN_EVALUATOR_SUITES", "nll", "SPIN_INSTANCE_ID", "eval-nll"));
        Map<String, String> em = f.env(Map.of("SPIN_EVALUATOR_SUITES", "exact_match", "SPIN_INSTANCE_ID", "eval-em",
                "SPIN_GATE_PRIMARY", "exact_match"));
        EvaluatorServiceTest.publish(f, EvaluatorServiceTest.event(f, s.better(), "base"));
        try (ServiceProcess killed = ServiceProcess.start(MAIN, nll, FaultPoints.EVALUATOR_WAITING, dir.resolve("nll-1.log"))) {
            assertThat(killed.awaitExit(Duration.ofSeconds(180))).as(killed.tail(30)).isEqualTo(137);
        }
        List<Evaluation> first = f.read(f.topics.evaluations(), l -> !l.isEmpty(), Duration.ofSeconds(10));
        assertThat(first).singleElement().satisfies(e -> {
            assertThat(e.getSuite()).isEqualTo("nll");
            assertThat(e.getVerdict()).isEqualTo(Verdict.PROMOTE);
            assertThat(e.getReasons()).anyMatch(r -> r.contains("promotion waits for the required suites"));
        });
        try (ServiceProcess other = ServiceProcess.start(MAIN, em, null, dir.resolve("em.log"))) {
            List<Evaluation> both = f.read(f.topics.evaluations(), l -> l.size() >= 2, Duration.ofSeconds(180));
            assertThat(both).as(other.tail(30)).hasSize(2);
            assertThat(both.get(1).getSuite()).isEqualTo("exact_match");
            assertThat(both.get(1).getVerdict()).isEqualTo(Verdict.PROMOTE);
            assertThat(f.readAll(f.topics.opponent())).as("the evaluator of nll promotes")
                    .hasSize(1);
            try (ServiceProcess again = ServiceProcess.start(MAIN, nll, null, dir.resolve("nll-2.log"))) {
                List<OpponentPromotion> opponents = f.read(f.topics.opponent(), l -> l.size() >= 2, Duration.ofSeconds(180));
                assertThat(opponents).as(again.tail(30)).extracting(OpponentPromotion::getCheckpointId)
                        .containsExactly("base", "better");
                assertThat(f.readAllAfter(f.topics.opponent(), Duration.ofSeconds(4))).as("promoted once").hasSize(2);
                assertThat(f.readAllAfter(f.topics.evaluations(), Duration.ofSeconds(1))).as("not evaluated again").hasSize(2);
            }
        }
    }
}
