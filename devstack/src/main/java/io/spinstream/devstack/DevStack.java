package io.spinstream.devstack;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * What tests and {@code ./spin local} start: a real KRaft broker in this JVM and a real schema registry
 * beside it, both on 127.0.0.1, started in parallel.
 */
public final class DevStack implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DevStack.class);

    private final EmbeddedKafka kafka;
    private final RegistryProcess registry;
    private final Duration startupTime;

    private DevStack(EmbeddedKafka kafka, RegistryProcess registry, Duration startupTime) {
        this.kafka = kafka;
        this.registry = registry;
        this.startupTime = startupTime;
    }

    /** A stack of its own: everything in temporary folders, deleted when it closes. */
    public static DevStack start() {
        return start(null);
    }

    /**
     * With {@code dataDir} (null: temporary) the broker's log ({@code kafka/}), the registry's schemas
     * ({@code registry/}) and the ports ({@code ports.properties}, used again while they are free) are
     * kept there: a stack started again on it, even after a SIGKILL, has every topic, offset, transaction
     * and schema id it had.
     */
    public static DevStack start(Path dataDir) {
        long t0 = System.nanoTime();
        // Every port at once (distinct), then the registry (a child JVM) first and the broker while it boots.
        int[] ports = dataDir == null ? FreePorts.distinct(4) : StackPorts.of(dataDir);
        CompletableFuture<RegistryProcess> registry = CompletableFuture.supplyAsync(() -> RegistryProcess.start(ports[0], ports[1],
                dataDir == null ? null : dataDir.resolve("registry")));
        EmbeddedKafka kafka;
        try {
            kafka = dataDir == null ? EmbeddedKafka.start(ports[2], ports[3])
                    : EmbeddedKafka.startKeeping(dataDir.resolve("kafka"), ports[2], ports[3]);
        } catch (RuntimeException e) {
            registry.thenAccept(RegistryProcess::close);
            throw e;
        }
        try {
            RegistryProcess r = registry.join();
            Duration took = Duration.ofNanos(System.nanoTime() - t0);
            // registry= is what the services take (its Confluent API), as every command prints it.
            log.info("dev stack up in {} ms: bootstrap={} registry={}{}", took.toMillis(),
                    kafka.bootstrapServers(), r.confluentApiUrl(), dataDir == null ? "" : " (data kept in " + dataDir + ")");
            return new DevStack(kafka, r, took);
        } catch (CompletionException e) {
            kafka.close();
            throw e.getCause() instanceof RuntimeException re ? re : e;
        }
    }

    public String bootstrapServers() {
        return kafka.bootstrapServers();
    }

    /**
     * The registry's URL as the services take it by default ({@code spin.registry.api=confluent}): the root of
     * Apicurio's Confluent-compatible API.
     */
    public String registryUrl() {
        return registry.confluentApiUrl();
    }

    /** Apicurio's base URL (its own v3 API is under {@code /apis/registry/v3}). */
    public String apicurioUrl() {
        return registry.baseUrl();
    }

    public RegistryProcess registry() {
        return registry;
    }

    /** The broker, to stop and start again on its log and port (an outage). */
    public EmbeddedKafka broker() {
        return kafka;
    }

    public Duration startupTime() {
        return startupTime;
    }

    @Override
    public void close() {
        try {
            registry.close();
        } finally {
            kafka.close();
        }
    }
}
