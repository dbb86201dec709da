package io.spinstream.demo;

import io.spinstream.evaluator.EvaluatorMain;
import io.spinstream.generator.GeneratorMain;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.trainer.TrainerMain;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

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
                new Ablation.Variant("spin-l3-nll-gated", "spin:lambda=3,alpha=1", 1e-4, true),
                // The reward family: K = 4 samples per prompt rewarded by the verifier, the human answer among them.
                new Ablation.Variant("raft", "raft", 1e-4, false, 4),
                new Ablation.Variant("rrhf", "rrhf", 1e-4, false, 4));
    }

    /**
     * The demo's own service settings (see {@link DemoSetup#serviceDefaults()}), parsed by the services'
     * own parsers: the trainer's round settings (optimiser, batch, checkpoints, convergence, rejection
     * policy), the evaluator's gate and the generator's sampling.
     */
    public static Ablation.Settings settings(int rounds, List<Long> seeds, Path work) {
        Map<String, String> values = new LinkedHashMap<>(DemoSetup.serviceDefaults());
        // Parsed, never connected: the ablation runs without Kafka.
        values.put("spin.bootstrap.servers", "unused:9092");
        values.put("spin.registry.url", "http://unused");
        values.put("spin.checkpoint.store", work.toAbsolutePath().toString());
        ServiceConfig config = ServiceConfig.load(DemoRun.serviceKeys(), Map.of(), Optional.empty(), values);
        return new Ablation.Settings(rounds, seeds, TrainerMain.settings(config).round(), EvaluatorMain.settings(config).gate(),
                GeneratorMain.settings(config).sampling());
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
