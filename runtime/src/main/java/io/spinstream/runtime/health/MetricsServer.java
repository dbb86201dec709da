package io.spinstream.runtime.health;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Prometheus metrics at {@code /metrics} and Kubernetes probes at {@code /health/live} and
 * {@code /health/ready} (200 or 503) on one port.
 */
public final class MetricsServer implements AutoCloseable {
    static {
        // The JDK server reads a request's headers on the thread that handles it and, by default, waits for them
        // forever: a client that connects and sends nothing would hold a thread for good. These bound a request's
        // and a response's time (seconds); read once, when the first server of the JVM starts.
        if (System.getProperty("sun.net.httpserver.maxReqTime") == null) {
            System.setProperty("sun.net.httpserver.maxReqTime", "10");
        }
        if (System.getProperty("jdk.httpserver.maxConnections") == null) { // connections held at once; beyond, refused
            System.setProperty("jdk.httpserver.maxConnections", "1000");
        }
        if (System.getProperty("sun.net.httpserver.maxRspTime") == null) {
            System.setProperty("sun.net.httpserver.maxRspTime", "30");
        }
    }

    private final PrometheusMeterRegistry registry;
    private final HttpServer server;
    private final ExecutorService executor;

    public MetricsServer(int port, PrometheusMeterRegistry registry, BooleanSupplier live, BooleanSupplier ready) {
        this(port, registry, () -> live.getAsBoolean() ? Optional.empty() : Optional.of("not live"), ready);
    }

    /** @param deadBecause why the service is not live (its reason is the 503's body); empty while it is */
    public MetricsServer(int port, PrometheusMeterRegistry registry, Supplier<Optional<String>> deadBecause, BooleanSupplier ready) {
        this(new InetSocketAddress(port), registry, deadBecause, ready);
    }

    /**
     * On {@code address} (spin.metrics.address and spin.metrics.port). Each request is served on a virtual thread of
     * its own: a slow or silent client holds its own thread, never the probe's.
     */
    public MetricsServer(InetSocketAddress address, PrometheusMeterRegistry registry, Supplier<Optional<String>> deadBecause,
                         BooleanSupplier ready) {
        this.registry = registry;
        try {
            this.server = HttpServer.create(address, 0);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on " + address + " for metrics and health", e);
        }
        server.createContext("/metrics", ex -> reply(ex, 200, registry.scrape(), "text/plain; version=0.0.4"));
        server.createContext("/health/live", ex -> {
            Optional<String> dead = deadBecause.get();
            reply(ex, dead.isEmpty() ? 200 : 503, dead.map(r -> "DOWN: " + r + "\n").orElse("UP\n"), "text/plain");
        });
        server.createContext("/health/ready", ex -> probe(ex, ready));
        this.executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("metrics-http-", 0).factory());
        server.setExecutor(executor);
        server.start();
    }

    public static PrometheusMeterRegistry newRegistry() {
        return new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    }

    public int port() {
        return server.getAddress().getPort();
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    private static void probe(HttpExchange ex, BooleanSupplier check) throws IOException {
        boolean ok = check.getAsBoolean();
        reply(ex, ok ? 200 : 503, ok ? "UP\n" : "DOWN\n", "text/plain");
    }

    /** Sends {@code body} as the whole response (what every small HTTP endpoint of the project answers with). */
    public static void reply(HttpExchange ex, int status, String body, String type) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
