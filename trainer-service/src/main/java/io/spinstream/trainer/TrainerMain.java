package io.spinstream.trainer;

import io.spinstream.model.checkpoint.CheckpointRetention;
import io.spinstream.model.objective.Objective;
import io.spinstream.runtime.ServiceLauncher;
import io.spinstream.runtime.config.RoundKeys;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.trainer.round.RejectionPolicy;
import io.spinstream.trainer.round.RoundEnd;
import io.spinstream.trainer.round.RoundSettings;

import java.nio.file.Path;

import static io.spinstream.trainer.TrainerKeys.*;
import io.spinstream.model.Precision;
import io.spinstream.model.lora.LoraConfig;
import io.spinstream.model.objective.GroupObjective;
import io.spinstream.runtime.config.ConfigException;

/** The trainer's container entry point. */
public final class TrainerMain {
    private TrainerMain() {
    }

    /** The trainer's settings, parsed once from its configuration. */
    public static TrainerService.Settings settings(ServiceConfig c) {
        ai.djl.Device device = RoundKeys.device(c);
        Precision precision = RoundKeys.precision(c, device);
        int rank = c.get(LORA_RANK);
        if (rank == 0 && !Precision.isFull(precision.weights())) {
            throw new ConfigException(RoundKeys.MODEL_DTYPE.name() + "=" + c.get(RoundKeys.MODEL_DTYPE)
                    + " holds the trainer's model in half precision, which only a LoRA adapter can be trained over: set "
                    + LORA_RANK.name() + " > 0 or " + RoundKeys.MODEL_DTYPE.name() + "=float32");
        }
        String spec = c.get(OBJECTIVE);
        boolean group = TrainerKeys.isGroupObjective(spec);
        RoundSettings.Training pairs = new RoundSettings.Training(Objective.parse(group ? "sft" : spec), c.get(OPTIMIZER),
                c.get(LR), c.get(WARMUP), c.get(WEIGHT_DECAY), c.get(MAX_GRAD_NORM), c.get(BATCH_SIZE), c.get(ACCUMULATION));
        RoundSettings.Training full = (group ? pairs.withGroups(GroupObjective.parse(spec)) : pairs)
                .withMemory(new RoundSettings.Memory(c.get(TrainerKeys.ACTIVATION_CHECKPOINTING), c.get(TrainerKeys.ATTENTION_BLOCK)));
        RoundSettings.Training training = rank == 0 ? full : full.withLora(new LoraConfig(rank,
                c.get(LORA_ALPHA), c.get(LORA_DROPOUT), TrainerKeys.LoraTargets.parse(c.get(LORA_TARGETS)), false), precision);
        RoundSettings round = new RoundSettings(training,
                new RoundSettings.Checkpointing(c.get(RoundKeys.RUN_ID), Path.of(c.get(STORE)), c.get(CHECKPOINT_EVERY)),
                new RoundSettings.Convergence(c.get(CONVERGED_SHARE), c.get(CONVERGED_MIN_PAIRS)),
                RejectionPolicy.of(c.get(REJECTION_POLICY), c.get(ROLLBACK_AFTER), c.get(ROLLBACK_LR_FACTOR), c.get(STOP_AFTER)),
                c.get(INCLUDE_PREVIOUS), RoundKeys.template(c), c.get(PROGRESS_MS));
        return new TrainerService.Settings(round, new RoundEnd.Rule(c.get(IDLE_MS), c.get(ROUND_END).equals("generation")),
                RoundKeys.split(c), Path.of(c.get(STATE_DIR)), new CheckpointRetention(c.get(KEEP)), device);
    }

    public static void main(String[] args) {
        ServiceLauncher.run("trainer", TrainerKeys.all(),
                (context, registry) -> new TrainerService(context, settings(context.config()), registry));
    }
}
