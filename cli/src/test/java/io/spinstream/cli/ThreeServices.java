package io.spinstream.cli;

import io.spinstream.devstack.DevStack;
import io.spinstream.evaluator.EvaluatorKeys;
import io.spinstream.evaluator.EvaluatorMain;
import io.spinstream.evaluator.EvaluatorService;
import io.spinstream.generator.GeneratorKeys;
import io.spinstream.generator.GeneratorMain;
import io.spinstream.generator.GeneratorService;
import io.spinstream.runtime.PollingService;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.config.ConfigKey;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.health.MetricsServer;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.trainer.TrainerKeys;
import io.spinstream.trainer.TrainerMain;
import io.spinstream.trainer.TrainerService;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The end-to-end tests' setting: the three services on a tiny model, settings small enough for a round in seconds. */
final class ThreeServices {
    private ThreeServices() {
    }

    /** The keys of the three services together. */
    static List<ConfigKey<?>> keys() {
        List<ConfigKey<?>> keys = new ArrayList<>(GeneratorKeys.all());
        keys.addAll(TrainerKeys.all());
        keys.addAll(EvaluatorKeys.all());
        return keys.stream().distinct().toList();
    }

    static SpinFixtures fixtures(DevStack stack, Path dir) {
        return fixtures(stack, dir, Map.of());
    }

    /** As {@link #fixtures(DevStack, Path)}, with {@code extra} settings (SPIN_* names) on top. */
    static SpinFixtures fixtures(DevStack stack, Path dir, Map<String, String> extra) {
        Map<String, String> settings = new java.util.HashMap<>(defaults(dir));
        settings.putAll(extra);
        return new SpinFixtures(stack, dir.resolve("store"), keys(), settings);
    }

    private static Map<String, String> defaults(Path dir) {
        return Map.ofEntries(
                Map.entry("SPIN_HELDOUT_SHARE", "0.25"),
                Map.entry("SPIN_CHECKPOINT_STORE", dir.resolve("store").toString()),
                Map.entry("SPIN_TRAINER_STATE_DIR", dir.resolve("streams").toString()),
                Map.entry("SPIN_GENERATOR_BATCH_SIZE", "8"),
                Map.entry("SPIN_GENERATOR_MAX_NEW_TOKENS", "6"),
                Map.entry("SPIN_TRAINER_BATCH_SIZE", "4"),
                Map.entry("SPIN_TRAINER_CHECKPOINT_EVERY_STEPS", "1000"),
                Map.entry("SPIN_TRAINER_IDLE_MS", "4000"),
                Map.entry("SPIN_TRAINER_LR", "3e-3"),
                Map.entry("SPIN_GATE_MIN_PROMPTS", "5"),
                Map.entry("SPIN_EVALUATOR_MAX_NEW_TOKENS", "6"));
    }

    /** Generator, trainer and evaluator built as their mains build them, started. */
    static List<PollingService> start(SpinFixtures f) {
        ServiceConfig config = f.config(Map.of());
        SpinContext context = SpinContext.from(config);
        List<PollingService> services = List.of(
                new GeneratorService(context, GeneratorMain.settings(config), MetricsServer.newRegistry()),
                new TrainerService(context, TrainerMain.settings(config), MetricsServer.newRegistry()),
                new EvaluatorService(context, EvaluatorMain.settings(config), MetricsServer.newRegistry()));
        services.forEach(PollingService::start);
        return services;
    }
}
