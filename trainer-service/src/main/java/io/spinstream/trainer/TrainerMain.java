package io.spinstream.trainer;

import io.spinstream.model.objective.Objective;
import io.spinstream.runtime.ServiceLauncher;
import io.spinstream.runtime.config.RoundKeys;
import io.spinstream.runtime.config.ServiceConfig;

import java.nio.file.Path;

import static io.spinstream.trainer.TrainerKeys.*;

/** The trainer's container entry point. */
public final class TrainerMain {
    private TrainerMain() {
    }

    public static TrainerService.Settings settings(ServiceConfig c) {
        return new TrainerService.Settings(c.get(RoundKeys.RUN_ID), Path.of(c.get(STORE)), Objective.parse(c.get(OBJECTIVE)),
                c.get(OPTIMIZER), c.get(LR), c.get(WARMUP), c.get(WEIGHT_DECAY), c.get(MAX_GRAD_NORM), c.get(BATCH_SIZE),
                c.get(ACCUMULATION), c.get(CHECKPOINT_EVERY), c.get(IDLE_MS), c.get(CONVERGED_SHARE),
                c.get(CONVERGED_MIN_PAIRS), RoundKeys.split(c), RoundKeys.template(c), Path.of(c.get(STATE_DIR)),
                c.get(PROGRESS_MS), new TrainerService.RejectionPolicy(c.get(REJECTION_POLICY), c.get(ROLLBACK_AFTER),
                c.get(ROLLBACK_LR_FACTOR), c.get(STOP_AFTER)), c.get(INCLUDE_PREVIOUS),
                c.get(ROUND_END).equals("generation"));
    }

    public static void main(String[] args) {
        ServiceLauncher.run("trainer", TrainerKeys.all(),
                (context, registry) -> new TrainerService(context, settings(context.config()), registry));
    }
}
