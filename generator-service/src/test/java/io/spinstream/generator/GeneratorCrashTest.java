package io.spinstream.generator;

import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.DevStack;
import io.spinstream.runtime.FaultPoints;
import io.spinstream.runtime.testing.ServiceProcess;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
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

/** The generator killed with SIGKILL between its sends and its commit, in a JVM of its own, and started again. */
@BrokerTest
@Tag("fault")
class GeneratorCrashTest {

    @Test
    void killedBetweenSendAndCommitItAnswersEveryPromptExactlyOnce(DevStack stack, @TempDir Path dir) throws Exception {
        SpinFixtures f = GeneratorServiceTest.fixtures(stack, dir);
        f.promote(f.checkpoint("base", 1), 0);
        List<Prompt> prompts = IntStream.range(0, 60).mapToObj(i -> SpinFixtures.prompt("arith", "arith-" + i,
                i + "+" + i + "=", String.valueOf(2 * i))).toList();
        f.produce("arith", prompts, List.of());
        HeldOutSplit split = new HeldOutSplit(0.2, "spin");
        Set<String> expected = prompts.stream().map(Prompt::getPromptId).filter(split::isTraining).collect(Collectors.toSet());
        // A short session, so the killed member leaves the group in seconds rather than the default 45.
        Map<String, String> env = f.env(Map.of("SPIN_GENERATOR_BATCH_SIZE", "4", "SPIN_INSTANCE_ID", "gen-a",
                "SPIN_KAFKA_SESSION_TIMEOUT_MS", "6000"));
        try (ServiceProcess killed = ServiceProcess.start(GeneratorMain.class.getName(), env, FaultPoints.GENERATOR_SENT + "@3",
                dir.resolve("1.log"))) {
            assertThat(killed.awaitExit(Duration.ofSeconds(180))).as(killed.tail(30)).isEqualTo(137);
        }
        int before = f.readAll(f.topics.synthetic()).size();
        assertThat(before).as("two batches committed before the kill, not the whole pass").isPositive()
                .isLessThan(expected.size());
        try (ServiceProcess again = ServiceProcess.start(GeneratorMain.class.getName(), env, null, dir.resolve("2.log"))) {
            List<SyntheticResponse> answers = f.answers(a -> a.size() >= expected.size(), Duration.ofSeconds(180));
            assertThat(answers).as(again.tail(20)).hasSize(expected.size());
            assertThat(f.readAllAfter(f.topics.synthetic(), Duration.ofSeconds(3))).as("the third batch's sends were aborted, not kept")
                    .extracting(SyntheticResponse::getPromptId).containsExactlyInAnyOrderElementsOf(expected);
        }
    }
}
