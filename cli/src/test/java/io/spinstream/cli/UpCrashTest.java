package io.spinstream.cli;

import io.spinstream.devstack.BrokerTest;
import io.spinstream.model.testing.HfFolders;
import io.spinstream.runtime.kafka.KafkaSettings;
import io.spinstream.runtime.kafka.TopicReader;
import io.spinstream.runtime.testing.ServiceProcess;
import io.spinstream.schemas.AvroSerdes;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
import io.spinstream.schemas.Topics;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code spin up --data} killed with SIGKILL after the round's first checkpoint and started again on the
 * same folder: the same run goes on from that checkpoint; nothing is published, promoted, answered or
 * evaluated twice.
 */
@BrokerTest
@Tag("fault")
class UpCrashTest {
    private static final List<String> SETTINGS = List.of("--set", "spin.heldout.share=0.25", "--set", "spin.test.share=0",
            "--set", "spin.generator.batch.size=8", "--set", "spin.generator.max.new.tokens=6",
            "--set", "spin.trainer.batch.size=4", "--set", "spin.trainer.checkpoint.every.steps=2",
            "--set", "spin.trainer.idle.ms=4000", "--set", "spin.trainer.lr=3e-3", "--set", "spin.gate.min.prompts=5",
            "--set", "spin.evaluator.max.new.tokens=6", "--set", "spin.metrics.port=0",
            "--set", "spin.kafka.session.timeout.ms=6000"); // the killed run's group members leave in seconds

    @Test
    void aKilledSpinUpResumesItsRunFromItsData(@TempDir Path dir) throws Exception {
        Path model = dir.resolve("my-qwen2");
        HfFolders.write(model, HfFolders.Spec.tinyQwen2());
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < 32; i++) {
            lines.append("{\"prompt\": \"").append(i).append('+').append(i).append("=\", \"completion\": \"").append(2 * i)
                    .append("\"}\n");
        }
        Path sft = Files.writeString(dir.resolve("sft.jsonl"), lines);
        Path data = dir.resolve("data");
        Path logs = Files.createDirectories(Path.of("target/up-crash")); // kept for a look after a failure
        Files.deleteIfExists(logs.resolve("1.log"));
        Files.deleteIfExists(logs.resolve("2.log"));
        List<String> args = new ArrayList<>(List.of("up", "--model", model.toString(), "--sft", sft.toString(),
                "--data", data.toString()));
        args.addAll(SETTINGS);
        String main = SpinCommand.class.getName();

        String bootstrap;
        String registry;
        try (ServiceProcess first = ServiceProcess.start(main, args, Map.of(), null, logs.resolve("1.log"))) {
            await(() -> hasCandidate(data), Duration.ofSeconds(240), first);
            bootstrap = find(first.log(), "bootstrap=(\\S+)");
            registry = find(first.log(), "registry=(\\S+)");
            first.kill(); // SIGKILL: no shutdown hook runs
        }
        try (ServiceProcess again = ServiceProcess.start(main, args, Map.of(), null, logs.resolve("2.log"))) {
            await(() -> again.log().contains("services up"), Duration.ofSeconds(180), again);
            assertThat(again.log()).contains("resumed (its opponent and rounds kept)");
            // Each in-process service serves its metrics and health from the first second, on the port it printed.
            for (String service : List.of("generator", "trainer", "evaluator")) {
                String port = find(again.log(), "metrics\\." + service + "=(\\d+)");
                java.net.http.HttpResponse<String> scraped = java.net.http.HttpClient.newHttpClient().send(
                        java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                        java.net.http.HttpResponse.BodyHandlers.ofString());
                assertThat(scraped.statusCode()).isEqualTo(200);
                assertThat(scraped.body()).as(service).contains("spin_" + service + "_");
            }
            assertThat(find(again.log(), "bootstrap=(\\S+)")).as("the same ports").isEqualTo(bootstrap);
            Topics topics = new Topics("spin", Topics.Layout.LOCAL, new AvroSerdes(registry));
            TopicReader reader = new TopicReader(KafkaSettings.of(bootstrap));
            await(() -> !reader.values(topics.evaluations()).isEmpty(), Duration.ofSeconds(240), again);
            assertThat(again.log()).contains("resuming round 0 from spin-r0-s");

            List<Prompt> prompts = reader.values(topics.prompts("sft"));
            assertThat(prompts).as("published once").hasSize(32);
            List<OpponentPromotion> opponents = reader.values(topics.opponent());
            assertThat(opponents.stream().filter(p -> p.getRound() == 0)).as("round 0 promoted once").hasSize(1);
            assertThat(opponents).as("%s", opponents.stream().map(o -> o.getRound() + ":" + o.getCheckpointId() + " over "
                    + (o.getEvaluation() == null ? "-" : o.getEvaluation().getBaselineId())).toList())
                    .extracting(OpponentPromotion::getRound).doesNotHaveDuplicates();
            HeldOutSplit split = new HeldOutSplit(0.25, "spin", 0);
            Set<String> training = prompts.stream().map(Prompt::getPromptId).filter(split::isTraining).collect(Collectors.toSet());
            List<String> answered = reader.values(topics.synthetic()).stream().filter(a -> a.getRound() == 0)
                    .map(SyntheticResponse::getPromptId).toList();
            assertThat(answered).as("round 0 answered each training prompt once").doesNotHaveDuplicates()
                    .containsExactlyInAnyOrderElementsOf(training);
            List<Evaluation> evaluations = reader.values(topics.evaluations());
            assertThat(evaluations.stream().map(e -> e.getCheckpointId() + "/" + e.getSuite())).doesNotHaveDuplicates();
        }
    }

    private static boolean hasCandidate(Path data) {
        Path store = data.resolve("store");
        if (!Files.isDirectory(store)) {
            return false;
        }
        try (Stream<Path> s = Files.list(store)) {
            return s.anyMatch(p -> p.getFileName().toString().startsWith("spin-r0-s"));
        } catch (java.io.IOException e) {
            return false;
        }
    }

    private static void await(BooleanSupplier condition, Duration timeout, ServiceProcess p) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waiting; log ends with:\n%s", p.tail(40)).isLessThan(deadline);
            assertThat(p.isAlive()).as("spin up exited; log ends with:\n%s", p.tail(40)).isTrue();
            Thread.sleep(500);
        }
    }

    private static String find(String log, String regex) {
        Matcher m = Pattern.compile(regex).matcher(log);
        assertThat(m.find()).as("%s in the log", regex).isTrue();
        return m.group(1);
    }
}
