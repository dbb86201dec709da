package io.spinstream.generator;

import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.model.Sampling;
import io.spinstream.runtime.ServiceLauncher;
import io.spinstream.runtime.config.RoundKeys;
import io.spinstream.runtime.config.ServiceConfig;

import static io.spinstream.generator.GeneratorKeys.*;

/** The generator's container entry point: configuration from the environment / SPIN_CONFIG_FILE. */
public final class GeneratorMain {
    private GeneratorMain() {
    }

    public static GeneratorService.Settings settings(ServiceConfig c) {
        if (c.get(SAMPLES) > 1 && c.get(TEMPERATURE) == 0) {
            throw new io.spinstream.runtime.config.ConfigException(SAMPLES.display() + "=" + c.get(SAMPLES) + " with "
                    + TEMPERATURE.display() + "=0 (greedy) gives " + c.get(SAMPLES) + " equal answers: sample at a temperature > 0");
        }
        Sampling sampling = new Sampling(c.get(TEMPERATURE).floatValue(), c.get(TOP_P).floatValue(),
                c.get(MAX_NEW_TOKENS), c.get(SEED));
        return new GeneratorService.Settings(c.get(RoundKeys.RUN_ID), c.get(BATCH_SIZE), c.get(BATCH_WAIT_MS), sampling,
                RoundKeys.split(c), RoundKeys.template(c), CheckpointLocation.from(c),
                RoundKeys.device(c), RoundKeys.precision(c, RoundKeys.device(c)), c.get(SAMPLES));
    }

    public static void main(String[] args) {
        ServiceLauncher.run("generator", GeneratorKeys.all(),
                (context, registry) -> new GeneratorService(context, settings(context.config()), registry));
    }
}
