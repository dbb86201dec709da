package io.spinstream.devstack;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * Apicurio Registry as a child JVM on 127.0.0.1, its schemas in memory or, given a data folder, in an
 * H2 database file there (kept across restarts). It speaks the Confluent REST API
 * at {@code /apis/ccompat/v7}. The child is started under a small shell watchdog that kills it when this
 * JVM's pipe to it closes, so not even a {@code kill -9} of this JVM leaves a registry behind.
 */
public final class RegistryProcess implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RegistryProcess.class);
    static final int MIN_JAVA = 21;
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(180);

    private final Path home;
    private final Path java;
    private final int port;
    private final int managementPort;
    private final Path workDir;
    private final boolean keepsData; // schemas in an H2 file under workDir, kept across restarts
    private final Map<String, String> serverSettings;
    private final String baseUrl;
    private final Thread shutdownHook;
    private Process process; // null while stopped
    private volatile boolean closed;

    private RegistryProcess(Path home, Path java, int port, int managementPort, Path workDir, boolean keepsData) {
        this(home, java, port, managementPort, workDir, keepsData, Map.of());
    }

    private RegistryProcess(Path home, Path java, int port, int managementPort, Path workDir, boolean keepsData,
                            Map<String, String> serverSettings) {
        this.serverSettings = Map.copyOf(serverSettings);
        this.home = home;
        this.java = java;
        this.port = port;
        this.managementPort = managementPort;
        this.workDir = workDir;
        this.keepsData = keepsData;
        this.baseUrl = "http://127.0.0.1:" + port;
        this.shutdownHook = new Thread(this::stopProcess, "registry-shutdown");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /** Where the build unpacked the registry server; {@code SPIN_REGISTRY_HOME} overrides it. */
    public static Path defaultHome() {
        String override = System.getenv("SPIN_REGISTRY_HOME");
        if (override != null && !override.isBlank()) {
            return Path.of(override);
        }
        Properties p = new Properties();
        try (InputStream in = RegistryProcess.class.getResourceAsStream("registry.properties")) {
            if (in == null) {
                throw new IllegalStateException("registry.properties is missing from the devstack jar; rebuild it");
            }
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Path.of(p.getProperty("registry.home"));
    }

    public static RegistryProcess start() {
        return start(defaultHome(), new JavaRuntimes().javaExecutable(MIN_JAVA));
    }

    public static RegistryProcess start(Path home, Path java) {
        int[] ports = FreePorts.distinct(2);
        return start(home, java, ports[0], ports[1], null);
    }

    /**
     * With further server settings ({@code -Dkey=value}: basic auth, a TLS port and key store), on free
     * ports, schemas in memory: for tests of clients that authenticate and verify certificates.
     */
    public static RegistryProcess startWith(Map<String, String> serverSettings) {
        int[] ports = FreePorts.distinct(2);
        Path home = defaultHome();
        Path java = new JavaRuntimes().javaExecutable(MIN_JAVA);
        Path workDir;
        try {
            workDir = Files.createTempDirectory("spin-registry-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return started(new RegistryProcess(home, java, ports[0], ports[1], workDir, false, serverSettings));
    }

    /** Starts {@code registry}'s server; closes it (and its folder) when that fails. */
    private static RegistryProcess started(RegistryProcess registry) {
        try {
            registry.startServer();
        } catch (RuntimeException e) {
            registry.close();
            throw e;
        }
        return registry;
    }

    /**
     * On the HTTP and management ports chosen by the caller (the dev stack picks all of its ports at
     * once); with {@code dataDir} the schemas are kept there (an H2 database file) across restarts.
     */
    static RegistryProcess start(int port, int managementPort, Path dataDir) {
        return start(defaultHome(), new JavaRuntimes().javaExecutable(MIN_JAVA), port, managementPort, dataDir);
    }

    private static RegistryProcess start(Path home, Path java, int port, int managementPort, Path dataDir) {
        Path runJar = home.resolve("quarkus-run.jar");
        if (!Files.isRegularFile(runJar)) {
            throw new IllegalStateException("the Apicurio Registry server is not at " + runJar
                    + ": build the devstack module first (./spin does it; or mvn -pl devstack package),"
                    + " or set SPIN_REGISTRY_HOME to an unpacked apicurio-registry-app-*-all.tar.gz");
        }
        Path workDir;
        try {
            workDir = dataDir == null ? Files.createTempDirectory("spin-registry-") : Files.createDirectories(dataDir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return started(new RegistryProcess(home, java, port, managementPort, workDir, dataDir != null));
    }

    /** Starts the registry (again) on its ports and data; a no-op while it runs. */
    public synchronized void startServer() {
        if (closed) {
            throw new IllegalStateException("the registry was closed");
        }
        if (process != null && process.isAlive()) {
            return;
        }
        List<String> javaArgs = new ArrayList<>(List.of(
                java.toString(), "-Xmx768m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Dquarkus.http.host=127.0.0.1",
                "-Dquarkus.http.port=" + port,
                "-Dquarkus.management.host=127.0.0.1",
                "-Dquarkus.management.port=" + managementPort,
                "-Dquarkus.http.access-log.enabled=false",
                "-Dquarkus.log.level=WARN",
                "-Dquarkus.log.category.\"io.apicurio\".level=WARN",
                "-Dquarkus.otel.sdk.disabled=true"));
        if (keepsData) {
            // The registry's SQL storage on an H2 file instead of its in-memory default: schemas and their ids
            // survive a restart, so the ids in records already on the broker still resolve.
            javaArgs.add("-Dapicurio.datasource.url=jdbc:h2:file:" + workDir.resolve("schemas").toAbsolutePath());
        }
        serverSettings.forEach((k, v) -> javaArgs.add("-D" + k + "=" + v));
        javaArgs.addAll(List.of("-jar", home.resolve("quarkus-run.jar").toString()));
        // sh keeps a pipe from us on stdin; when it closes (we exit, however we exit), it kills the registry.
        List<String> command = new ArrayList<>(List.of("sh", "-c",
                "\"$@\" & child=$!; trap 'kill $child 2>/dev/null' TERM INT; "
                        + "cat >/dev/null; kill $child 2>/dev/null; wait $child",
                "registry-watchdog"));
        command.addAll(javaArgs);
        Path logFile = workDir.resolve("registry.log");
        try {
            process = new ProcessBuilder(command)
                    .directory(home.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the registry with " + java, e);
        }
        awaitReady(logFile);
        log.info("Apicurio Registry at {} (java {}{})", baseUrl, java, keepsData ? ", schemas kept in " + workDir : "");
    }

    /** Stops the registry and keeps its data, to be started again by {@link #startServer()} on the same ports. */
    public synchronized void stopServer() {
        stopChild();
    }

    private void awaitReady(Path logFile) {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest probe = HttpRequest.newBuilder(URI.create(baseUrl + "/apis/ccompat/v7/subjects"))
                .timeout(Duration.ofSeconds(5)).GET().build();
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("the registry exited with code " + process.exitValue()
                        + " before it was ready; its log ends with:\n" + tail(logFile, 40));
            }
            try {
                int status = http.send(probe, HttpResponse.BodyHandlers.discarding()).statusCode();
                if (status == 200 || status == 401) { // 401: up, and asking for credentials
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for the registry", e);
            }
            sleep(200);
        }
        throw new IllegalStateException("the registry was not ready within " + READY_TIMEOUT.toSeconds()
                + " s; its log ends with:\n" + tail(logFile, 40));
    }

    private static String tail(Path file, int lines) {
        try {
            List<String> all = Files.readAllLines(file);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The registry's base URL; {@code baseUrl() + "/apis/ccompat/v7/subjects"} lists the subjects. */
    public String baseUrl() {
        return baseUrl;
    }

    /** The Confluent-compatible API, for Confluent clients. */
    public String confluentApiUrl() {
        return baseUrl + "/apis/ccompat/v7";
    }

    /** The Apicurio v3 API, for Apicurio clients and serdes. */
    public String apicurioApiUrl() {
        return baseUrl + "/apis/registry/v3";
    }

    /** The pid of the registry JVM's watchdog shell; its only child is the registry JVM. */
    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        Process p = process;
        return p != null && (p.isAlive() || p.descendants().anyMatch(ProcessHandle::isAlive));
    }

    private void stopProcess() {
        stopChild();
        if (!keepsData) {
            EmbeddedKafka.deleteRecursively(workDir);
        }
    }

    private void stopChild() {
        Process p = process;
        if (p == null) {
            return;
        }
        List<ProcessHandle> descendants = p.descendants().toList();
        try {
            p.getOutputStream().close(); // the watchdog's cat ends and it kills the registry
        } catch (IOException ignored) {
            // already closed
        }
        try {
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                descendants.forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            for (ProcessHandle d : descendants) {
                d.onExit().get(10, TimeUnit.SECONDS);
            }
        } catch (Exception e) {
            descendants.forEach(ProcessHandle::destroyForcibly);
        }
        process = null;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        stopProcess();
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or has run
        }
    }
}
