package io.spinstream.cli;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Runs {@code spin local} as its own JVM, as ./spin does, and stops it with SIGTERM. */
@Tag("broker") // starts a broker and registry of its own
class LocalCommandTest {

    @Test
    void localBringsUpBrokerRegistryAndTopicsAndStopsEverythingOnSigterm(@TempDir Path dir) throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Path config = dir.resolve("local.properties");
        Process spin = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp", classpath,
                SpinCommand.class.getName(), "local", "--prefix", "clitest", "--write-config", config.toString())
                .redirectError(dir.resolve("stderr.log").toFile())
                .start();
        try {
            Map<String, String> printed = new HashMap<>();
            BufferedReader stdout = new BufferedReader(new InputStreamReader(spin.getInputStream(), StandardCharsets.UTF_8));
            String line;
            while (printed.size() < 2 && (line = stdout.readLine()) != null) {
                int eq = line.indexOf('=');
                if (eq > 0) {
                    printed.put(line.substring(0, eq), line.substring(eq + 1));
                }
            }
            assertThat(printed).as("stdout; stderr: %s", Files.readString(dir.resolve("stderr.log")))
                    .containsKeys("bootstrap", "registry");
            assertThat(printed.get("bootstrap")).matches("127\\.0\\.0\\.1:\\d+");

            HttpResponse<String> subjects = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create(printed.get("registry") + "/subjects")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(subjects.statusCode()).isEqualTo(200);
            assertThat(subjects.body()).contains("clitest.opponent-value", "clitest.synthetic-value");

            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, printed.get("bootstrap")))) {
                Set<String> names = admin.listTopics().names().get(30, TimeUnit.SECONDS);
                assertThat(names).containsAll(List.of("clitest.synthetic", "clitest.pairs", "clitest.checkpoints",
                        "clitest.evaluations", "clitest.opponent", "clitest.dead-letters"));
            }
            assertThat(Files.readAllLines(config)).contains("spin.bootstrap.servers=" + printed.get("bootstrap"),
                    "spin.registry.url=" + printed.get("registry"));

            List<ProcessHandle> children = spin.descendants().toList();
            assertThat(children).as("the registry runs as a child").isNotEmpty();
            spin.destroy(); // SIGTERM
            assertThat(spin.waitFor(60, TimeUnit.SECONDS)).as("exits after SIGTERM").isTrue();
            for (ProcessHandle child : children) {
                child.onExit().get(30, TimeUnit.SECONDS);
                assertThat(child.isAlive()).isFalse();
            }
            assertThat(Files.readString(dir.resolve("stderr.log"))).contains("stopping the local stack");
        } finally {
            spin.descendants().forEach(ProcessHandle::destroyForcibly);
            spin.destroyForcibly();
        }
    }
}
