package io.spinstream.demo;

import io.spinstream.runtime.health.MetricsServer;

import java.util.ArrayList;
import java.util.List;

/** The in-process services' metrics servers, closed together. */
public record MetricsServers(List<MetricsServer> servers) implements AutoCloseable {

    /** "generator :PORT, trainer :PORT, evaluator :PORT" (each serves /metrics, /health/live and /health/ready). */
    public String describe(List<String> names) {
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < servers.size(); i++) {
            parts.add(names.get(i) + " :" + servers.get(i).port());
        }
        return String.join(", ", parts) + " (/metrics, /health/live, /health/ready)";
    }

    @Override
    public void close() {
        servers.forEach(MetricsServer::close);
    }
}
