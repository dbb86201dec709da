package io.spinstream.demo;

import io.spinstream.evaluator.PromotionGate;
import io.spinstream.evaluator.suite.Metric;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Which variants the ablation compares, with the demo's gate, and its plot. */
public final class AblationPlan {
    private AblationPlan() {
    }

    public static List<Ablation.Variant> variants() {
        return List.of(
                new Ablation.Variant("sft", "sft", 1e-4, false),
                new Ablation.Variant("spin", "spin:lambda=1", 1e-4, false),
                new Ablation.Variant("spin-nll", "spin:lambda=1,alpha=1", 1e-4, false),
                new Ablation.Variant("spin-l0.1", "spin:lambda=0.1", 1e-4, false),
                new Ablation.Variant("sft-gated", "sft", 1e-4, true),
                new Ablation.Variant("spin-nll-gated", "spin:lambda=1,alpha=1", 1e-4, true),
                new Ablation.Variant("spin-nll-gated-lr3e-4", "spin:lambda=1,alpha=1", 3e-4, true),
                new Ablation.Variant("spin-nll-gated-lr3e-5", "spin:lambda=1,alpha=1", 3e-5, true),
                new Ablation.Variant("spin-nll0.3-gated", "spin:lambda=1,alpha=0.3", 1e-4, true),
                new Ablation.Variant("spin-l3-nll-gated", "spin:lambda=3,alpha=1", 1e-4, true));
    }

    /** The demo's own gate and rollback factor (see {@link DemoSetup#serviceDefaults()}). */
    public static Ablation.Settings settings(int rounds, List<Long> seeds) {
        Map<String, String> d = DemoSetup.serviceDefaults();
        PromotionGate gate = new PromotionGate(Metric.named(d.get("spin.gate.primary")), Double.parseDouble(d.get("spin.gate.margin")),
                PromotionGate.parseGuards(d.get("spin.gate.guards")), Integer.parseInt(d.get("spin.gate.min.prompts")));
        return new Ablation.Settings(rounds, seeds, Integer.parseInt(d.get("spin.trainer.batch.size")),
                Double.parseDouble(d.get("spin.generator.temperature")), Integer.parseInt(d.get("spin.generator.max.new.tokens")),
                gate, Double.parseDouble(d.get("spin.trainer.rejection.lr.factor")));
    }

    /** Mean held-out exact match of the opponent in force after each round, one line per variant. */
    public static void plot(List<Ablation.Run> runs, Path file) {
        XYChart chart = new XYChartBuilder().width(1000).height(550).title("Ablation: held-out exact match by round (mean over seeds)")
                .xAxisTitle("round").yAxisTitle("exact match").build();
        Map<String, List<Ablation.Run>> by = new LinkedHashMap<>();
        runs.forEach(r -> by.computeIfAbsent(r.variant().name(), k -> new ArrayList<>()).add(r));
        by.forEach((name, rs) -> {
            int n = rs.get(0).em().length;
            double[] x = new double[n];
            double[] y = new double[n];
            for (int i = 0; i < n; i++) {
                x[i] = i;
                for (Ablation.Run r : rs) {
                    y[i] += r.em()[i] / rs.size();
                }
            }
            chart.addSeries(name, x, y);
        });
        RoundPlot.save(List.of(chart), file);
    }
}
