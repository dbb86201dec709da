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
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import io.spinstream.runtime.http.HttpServerLimits;

/**
 * Prometheus metrics at {@code /metrics} and Kubernetes probes at {@code /health/live} and
 * {@code /health/ready} (200 or 503) on one port.
 */
public final class MetricsServer implements AutoCloseable {
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
        HttpServerLimits.apply();
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
        this.executor = HttpServerLimits.perRequestThreads("metrics-http");
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
