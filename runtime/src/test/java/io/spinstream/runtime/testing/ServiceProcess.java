package io.spinstream.runtime.testing;

import io.spinstream.runtime.FaultPoints;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A service's {@code main} in a JVM of its own, configured by environment as in its container, its
 * output in a log file: what the fault tests kill with SIGKILL (at an armed {@link FaultPoints} point,
 * or from outside) and start again.
 */
public final class ServiceProcess implements AutoCloseable {
    private final Process process;
    private final Path log;

    private ServiceProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    /**
     * @param faultPoint {@code NAME[@N]} to arm, or null
     */
    public static ServiceProcess start(String mainClass, Map<String, String> env, String faultPoint, Path log) throws IOException {
        return start(mainClass, List.of(), env, faultPoint, log);
    }

    /** With command-line arguments (a {@code spin} command). */
    public static ServiceProcess start(String mainClass, List<String> args, Map<String, String> env, String faultPoint, Path log)
            throws IOException {
        String java = ProcessHandle.current().info().command().orElseThrow();
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xmx1g",
                "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true", "-Dai.djl.offline=true",
                "-Dai.djl.pytorch.num_threads=1", "-Dai.djl.pytorch.num_interop_threads=1"));
        if (faultPoint != null) {
            command.add("-D" + FaultPoints.PROPERTY + "=" + faultPoint);
        }
        command.addAll(List.of("-cp", classpath, mainClass));
        command.addAll(args);
        ProcessBuilder b = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        b.environment().putAll(env);
        return new ServiceProcess(b.start(), log);
    }

    /** Waits for the process to end; its exit code (137 after a SIGKILL), or -1 when it still runs. */
    public int awaitExit(Duration timeout) throws InterruptedException {
        return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS) ? process.exitValue() : -1;
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** SIGKILL from outside. */
    public void kill() throws InterruptedException {
        process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    }

    /** The log's last lines, for assertion messages. */
    public String tail(int lines) {
        try {
            List<String> all = Files.readAllLines(log);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    public String log() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "";
        }
    }

    /** SIGTERM, as Kubernetes stops a pod: the service finishes its batch and commits. */
    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                kill();
            }
        }
    }
}
