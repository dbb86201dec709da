package io.spinstream.cli.ops;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.spinstream.evaluator.EvaluatorMetrics;
import io.spinstream.generator.GeneratorMetrics;
import io.spinstream.trainer.TrainerMetrics;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every service metric the shipped alert rules and dashboard read has a series from the services' first second
 * (counters at 0): an alert or a panel of a clean run is never empty for want of a first event.
 */
class ShippedMetricsTest {
    private static final Pattern NAME = Pattern.compile("\\bspin_[a-z_]+");

    @Test
    void everyMetricTheRulesAndTheDashboardReadIsThereAtStart() throws Exception {
        Set<String> read = new TreeSet<>();
        for (Path shipped : List.of(Path.of("../k8s/base/monitoring.yaml"), Path.of("../k8s/base/dashboards/spinstream.json"))) {
            Matcher m = NAME.matcher(Files.readString(shipped)); // tests run in the cli module's folder
            while (m.find()) {
                read.add(m.group());
            }
        }
        assertThat(read).as("names read from the shipped files").contains("spin_trainer_pairs_stale_total", "spin_evaluator_metric");

        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new GeneratorMetrics(registry);
        new TrainerMetrics(registry, Clock.systemUTC(), () -> null);
        new EvaluatorMetrics(registry, List.of("heldout_nll", "preference_accuracy", "exact_match"));
        Set<String> series = new TreeSet<>();
        registry.scrape().lines().filter(l -> !l.startsWith("#")).forEach(l -> series.add(l.replaceAll("[{ ].*", "")));
        assertThat(series).as("series a fresh generator, trainer and evaluator expose").containsAll(read);
    }
}
