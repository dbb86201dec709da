package io.spinstream.runtime.health;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.atomic.AtomicBoolean;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

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

    /**
     * Clients that connect and send nothing, or half a request, hold threads of their own: the probe is answered at
     * once beside 300 of them.
     */
    @Test
    void silentAndSlowClientsDoNotDelayTheProbes() throws Exception {
        List<Socket> slow = new ArrayList<>();
        try (MetricsServer server = new MetricsServer(new InetSocketAddress("127.0.0.1", 0), MetricsServer.newRegistry(),
                Optional::empty, () -> true)) {
            for (int i = 0; i < 300; i++) {
                Socket s = new Socket("127.0.0.1", server.port());
                if (i % 2 == 0) { // half a request line, never finished
                    s.getOutputStream().write("GET /health/li".getBytes(StandardCharsets.US_ASCII));
                    s.getOutputStream().flush();
                }
                slow.add(s);
            }
            long t = System.nanoTime();
            HttpResponse<String> live = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()
                    .send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/health/live"))
                            .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
            double seconds = (System.nanoTime() - t) / 1e9;
            assertThat(live.statusCode()).isEqualTo(200);
            assertThat(live.body()).isEqualTo("UP\n");
            // A bound for a loaded 2-core CI machine: with one handler thread the probe is never answered (it times out).
            assertThat(seconds).as("answered beside 300 silent clients").isLessThan(4.0);
        } finally {
            for (Socket s : slow) {
                s.close();
            }
        }
    }
}
