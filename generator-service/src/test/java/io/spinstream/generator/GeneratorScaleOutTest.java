package io.spinstream.generator;

import io.spinstream.devstack.DevStack;
import io.spinstream.devstack.BrokerTest;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/** Two generator JVMs share the work; one is killed with SIGKILL mid-pass; every prompt is still answered once. */
@BrokerTest
class GeneratorScaleOutTest {

    private static Process launch(SpinFixtures f, String instance, Path log) throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        ProcessBuilder pb = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Xmx1g",
                "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1", "-Dai.djl.pytorch.num_interop_threads=1",
                "-cp", classpath, GeneratorMain.class.getName())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(f.env(Map.of(
                "SPIN_INSTANCE_ID", instance,
                "SPIN_GENERATOR_BATCH_SIZE", "4",
                "SPIN_GENERATOR_MAX_NEW_TOKENS", "24",
                "SPIN_TRANSACTION_TIMEOUT_MS", "10000",
                // A dead member leaves the group within seconds, not the default 45.
                "SPIN_KAFKA_SESSION_TIMEOUT_MS", "6000",
                "SPIN_KAFKA_HEARTBEAT_INTERVAL_MS", "1000")));
        return pb.start();
    }

    @Test
    void killingOneOfTwoInstancesMidPassLosesAndRepeatsNothing(DevStack stack, @TempDir Path dir) throws Exception {
        SpinFixtures f = GeneratorServiceTest.fixtures(stack, dir);
        f.promote(f.checkpoint("base", 1), 0);
        List<Prompt> prompts = IntStream.range(0, 160)
                .mapToObj(i -> SpinFixtures.prompt("arith", "p" + i, i + "+" + i + "=", String.valueOf(2 * i))).toList();
        HeldOutSplit split = new HeldOutSplit(0.2, "spin");
        Set<String> expected = prompts.stream().map(Prompt::getPromptId).filter(id -> !split.isHeldOut(id))
                .collect(Collectors.toSet());
        Process a = launch(f, "gen-a", dir.resolve("a.log"));
        Process b = launch(f, "gen-b", dir.resolve("b.log"));
        try {
            // Both in the round's group before any prompt exists: otherwise the instance that starts first can
            // answer the whole pass before the other joins, and there is nothing to kill mid-pass.
            try (Admin admin = Admin.create(f.kafka.admin())) {
                String group = f.topics.generatorGroup(0);
                long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
                int members = 0;
                while (members < 2 && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                    try {
                        members = admin.describeConsumerGroups(List.of(group)).all().get().get(group).members().size();
                    } catch (java.util.concurrent.ExecutionException notYet) {
                        members = 0; // the group does not exist until its first member joins
                    }
                }
                assertThat(members).as("both instances joined " + group).isEqualTo(2);
            }
            f.produce("arith", prompts, List.of());
            Function<List<SyntheticResponse>, Set<String>> byWhom = l -> l.stream().map(r -> r.getGenerator())
                    .collect(Collectors.toSet());
            // Kill one once both have committed work, well before the pass is over.
            List<SyntheticResponse> early = f.answers(l -> byWhom.apply(l).size() == 2 && l.size() >= 20,
                    Duration.ofSeconds(120));
            assertThat(byWhom.apply(early)).as("both instances answered").containsExactlyInAnyOrder("gen-a", "gen-b");
            assertThat(early.size()).as("the pass is not over yet").isLessThan(expected.size());
            a.destroyForcibly(); // SIGKILL: no shutdown hook, an open transaction left behind
            assertThat(a.waitFor(10, TimeUnit.SECONDS)).isTrue();

            List<SyntheticResponse> all = f.answers(l -> ids(l).containsAll(expected), Duration.ofSeconds(150));
            // Read a little longer: a duplicate would show up after the last new id.
            all = f.readAllAfter(f.topics.synthetic(), Duration.ofSeconds(3));
            List<String> ids = new ArrayList<>(all.stream().map(SyntheticResponse::getPromptId).toList());
            assertThat(ids).as("every training prompt answered exactly once").hasSameSizeAs(expected)
                    .containsExactlyInAnyOrderElementsOf(expected);
            assertThat(byWhom.apply(all)).contains("gen-b");
        } finally {
            a.destroyForcibly();
            b.destroy();
            b.waitFor(30, TimeUnit.SECONDS);
            b.destroyForcibly();
        }
    }

    private static Set<String> ids(List<SyntheticResponse> l) {
        return l.stream().map(SyntheticResponse::getPromptId).collect(Collectors.toSet());
    }
}
