package io.spinstream.devstack;

import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.storage.Formatter;
import org.apache.kafka.server.common.MetadataVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Properties;
import java.util.stream.Stream;

/**
 * A real Kafka broker in KRaft mode (combined broker + controller, node 1) running in this JVM on
 * 127.0.0.1. Replication factors are 1 everywhere, including the transaction state log, so that
 * exactly-once producers do not hang on a single node.
 */
public final class EmbeddedKafka implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EmbeddedKafka.class);

    private final Path logDir;
    private final boolean ownsLogDir;
    private final int brokerPort;
    private final int controllerPort;
    private KafkaRaftServer server; // null while stopped
    private volatile boolean closed;

    private EmbeddedKafka(Path logDir, boolean ownsLogDir, int brokerPort, int controllerPort) {
        this.logDir = logDir;
        this.ownsLogDir = ownsLogDir;
        this.brokerPort = brokerPort;
        this.controllerPort = controllerPort;
    }

    /** Formats a fresh log directory under a temporary folder and starts the broker on free ports. */
    public static EmbeddedKafka start() {
        try {
            return start(Files.createTempDirectory("spin-kafka-"), true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a temporary folder for the Kafka log", e);
        }
    }

    static EmbeddedKafka start(Path logDir, boolean ownsLogDir) {
        int[] ports = FreePorts.distinct(2);
        return start(logDir, ownsLogDir, ports[0], ports[1]);
    }

    /** On ports chosen by the caller (the dev stack picks all of its ports at once). */
    static EmbeddedKafka start(int brokerPort, int controllerPort) {
        try {
            return start(Files.createTempDirectory("spin-kafka-"), true, brokerPort, controllerPort);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a temporary folder for the Kafka log", e);
        }
    }

    /**
     * On a log directory that survives this broker ({@code logDir} is formatted the first time only, and
     * kept): started again on it, the broker has every topic, committed offset and transaction it had.
     */
    public static EmbeddedKafka startKeeping(Path logDir, int brokerPort, int controllerPort) {
        return start(logDir, false, brokerPort, controllerPort);
    }

    private static EmbeddedKafka start(Path logDir, boolean ownsLogDir, int brokerPort, int controllerPort) {
        EmbeddedKafka kafka = new EmbeddedKafka(logDir, ownsLogDir, brokerPort, controllerPort);
        kafka.startServer();
        return kafka;
    }

    /** Starts the broker (again) on its log directory and ports; a no-op while it runs. */
    public synchronized void startServer() {
        if (closed) {
            throw new IllegalStateException("the broker was closed");
        }
        if (server != null) {
            return;
        }
        KafkaConfig config = new KafkaConfig(brokerProperties(logDir, brokerPort, controllerPort));
        if (!Files.exists(logDir.resolve("meta.properties"))) {
            format(config, logDir);
        }
        KafkaRaftServer s = new KafkaRaftServer(config, Time.SYSTEM);
        s.startup();
        server = s;
        log.info("Kafka broker (KRaft) listening on 127.0.0.1:{}, log dir {}", brokerPort, logDir);
    }

    /**
     * Stops the broker and keeps its log directory, to be started again by {@link #startServer()} on the
     * same ports (an outage, as a test makes one).
     */
    public synchronized void stopServer() {
        if (server != null) {
            server.shutdown();
            server.awaitShutdown();
            server = null;
        }
    }

    public Path logDir() {
        return logDir;
    }

    static Properties brokerProperties(Path logDir, int brokerPort, int controllerPort) {
        Properties p = new Properties();
        p.put("process.roles", "broker,controller");
        p.put("node.id", "1");
        p.put("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
        p.put("listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
        p.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort);
        p.put("controller.listener.names", "CONTROLLER");
        p.put("inter.broker.listener.name", "PLAINTEXT");
        p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.put("log.dirs", logDir.toString());
        p.put("num.partitions", "1");
        p.put("default.replication.factor", "1");
        p.put("offsets.topic.replication.factor", "1");
        p.put("offsets.topic.num.partitions", "3");
        p.put("transaction.state.log.replication.factor", "1");
        p.put("transaction.state.log.min.isr", "1");
        p.put("transaction.state.log.num.partitions", "3");
        p.put("share.coordinator.state.topic.replication.factor", "1");
        p.put("share.coordinator.state.topic.min.isr", "1");
        p.put("min.insync.replicas", "1");
        // Tests and the local run want a consumer group to start at once, not after 3 s.
        p.put("group.initial.rebalance.delay.ms", "0");
        p.put("auto.create.topics.enable", "false");
        p.put("log.flush.interval.messages", Long.toString(Long.MAX_VALUE));
        return p;
    }

    private static void format(KafkaConfig config, Path logDir) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (PrintStream print = new PrintStream(out, true, StandardCharsets.UTF_8)) {
            new Formatter()
                    .setPrintStream(print)
                    .setNodeId(config.nodeId())
                    .setClusterId(Uuid.randomUuid().toString())
                    .addDirectory(logDir.toString())
                    .setMetadataLogDirectory(logDir.toString())
                    .setControllerListenerName("CONTROLLER")
                    .setReleaseVersion(MetadataVersion.LATEST_PRODUCTION)
                    .run();
        } catch (Exception e) {
            throw new IllegalStateException("formatting the KRaft log directory " + logDir + " failed: "
                    + e.getMessage() + " " + out.toString(StandardCharsets.UTF_8), e);
        }
    }

    /** {@code 127.0.0.1:PORT}, for {@code bootstrap.servers}. */
    public String bootstrapServers() {
        return "127.0.0.1:" + brokerPort;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        try {
            stopServer();
        } finally {
            closed = true;
            if (ownsLogDir) {
                deleteRecursively(logDir);
            }
        }
    }

    static void deleteRecursively(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            log.warn("could not delete {}: {}", dir, e.toString());
        }
    }
}
