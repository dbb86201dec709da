package io.spinstream.evaluator;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.Verdict;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The evaluator's metrics: verdicts, the last verdict, and every metric of the last candidate and baseline. Every
 * series a shipped alert rule or dashboard panel reads exists from the start (counters at 0, metrics NaN).
 */
public final class EvaluatorMetrics {
    private final MeterRegistry registry;
    private final AtomicInteger lastVerdict = new AtomicInteger(0);
    private final Map<String, AtomicReference<Double>> gauges = new HashMap<>();

    EvaluatorMetrics(MeterRegistry registry) {
        this(registry, List.of());
    }

    /** @param metrics the names of the metrics this evaluator's suites measure */
    public EvaluatorMetrics(MeterRegistry registry, List<String> metrics) {
        this.registry = registry;
        registry.gauge("spin.evaluator.last.verdict", lastVerdict);
        for (Verdict v : Verdict.values()) {
            registry.counter("spin.evaluator.evaluations", "verdict", v.name());
        }
        registry.counter("spin.evaluator.duplicates");
        registry.counter("spin.evaluator.transient.faults");
        modelTime();
        for (String metric : metrics) {
            gauge(metric, "candidate");
            gauge(metric, "baseline");
        }
    }

    /** Time spent generating and scoring held-out answers (the opponent's and the candidates'). */
    io.micrometer.core.instrument.Timer modelTime() {
        return registry.timer("spin.evaluator.model.time");
    }

    void duplicate() {
        registry.counter("spin.evaluator.duplicates").increment();
    }

    /** An event read again after the registry, the broker or the checkpoint store could not be reached. */
    void transientFault() {
        registry.counter("spin.evaluator.transient.faults").increment();
    }

    void evaluated(Evaluation ev) {
        registry.counter("spin.evaluator.evaluations", "verdict", ev.getVerdict().name()).increment();
        lastVerdict.set(ev.getVerdict() == Verdict.PROMOTE ? 1 : ev.getVerdict() == Verdict.REJECT ? 0 : -1);
        ev.getMetrics().forEach((k, v) -> gauge(k, "candidate").set(v));
        ev.getBaselineMetrics().forEach((k, v) -> gauge(k, "baseline").set(v));
    }

    private AtomicReference<Double> gauge(String metric, String role) {
        return gauges.computeIfAbsent(metric + "/" + role, k -> {
            AtomicReference<Double> ref = new AtomicReference<>(Double.NaN);
            registry.gauge("spin.evaluator.metric", Tags.of("metric", metric, "role", role), ref, AtomicReference::get);
            return ref;
        });
    }
}
