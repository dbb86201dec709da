package io.spinstream.runtime.health;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

class MetricsServerTest {

    private static HttpResponse<String> get(int port, String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void servesPrometheusMetricsAndProbes() throws Exception {
        PrometheusMeterRegistry registry = MetricsServer.newRegistry();
        registry.counter("spin.test.things").increment(3);
        AtomicBoolean ready = new AtomicBoolean(false);
        try (MetricsServer server = new MetricsServer(0, registry, () -> true, ready::get)) {
            HttpResponse<String> metrics = get(server.port(), "/metrics");
            assertThat(metrics.statusCode()).isEqualTo(200);
            assertThat(metrics.body()).contains("spin_test_things_total 3.0");
            assertThat(get(server.port(), "/health/live").statusCode()).isEqualTo(200);
            assertThat(get(server.port(), "/health/ready").statusCode()).isEqualTo(503);
            ready.set(true);
            assertThat(get(server.port(), "/health/ready").statusCode()).isEqualTo(200);
        }
    }
}
