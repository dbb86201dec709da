package io.spinstream.trainer;

import io.spinstream.model.objective.Objective;
import io.spinstream.runtime.config.ConfigKey;
import io.spinstream.runtime.config.InitKeys;
import io.spinstream.runtime.config.RoundKeys;
import io.spinstream.runtime.config.ValueType;

import java.util.ArrayList;
import java.util.List;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.lora.LoraConfig;
import io.spinstream.model.objective.GroupObjective;
import java.util.Arrays;
import java.util.Locale;

/** The trainer's configuration keys. */
public final class TrainerKeys {
    /** {@code spin.trainer.lora.targets} read: known projection names, at least one. */
    static final class LoraTargets {
        private LoraTargets() {
        }

        static List<String> parse(String raw) {
            List<String> names = Arrays.stream(raw.split(",")).map(String::trim).filter(t -> !t.isEmpty()).distinct().toList();
            if (names.isEmpty() || !LoraConfig.KNOWN.containsAll(names)) {
                throw new IllegalArgumentException(raw);
            }
            return names;
        }
    }

    private TrainerKeys() {
    }

    public static final ConfigKey<String> STORE = InitKeys.STORE;
    public static final ConfigKey<String> OBJECTIVE = ConfigKey.optional("spin.trainer.objective", ValueType.of(
            "sft, spin, spin-hinge, dpo, simpo, raft or rrhf with parameters, e.g. spin:lambda=1,alpha=1 or raft:top=1", s -> {
                if (isGroupObjective(s)) {
                    GroupObjective.parse(s);
                } else {
                    Objective.parse(s);
                }
                return s;
            }), "spin:lambda=1,alpha=1", "training objective (SPIN with an NLL term by default: it stops the likelihood displacement of pure SPIN, see docs/experiments.md)");
    public static final ConfigKey<String> OPTIMIZER = ConfigKey.optional("spin.trainer.optimizer",
            ValueType.oneOf("adamw", "rmsprop"), "adamw", "optimiser");
    public static final ConfigKey<Double> LR = ConfigKey.optional("spin.trainer.lr", ValueType.POSITIVE_NUMBER, "1e-4", "peak learning rate");
    public static final ConfigKey<Integer> WARMUP = ConfigKey.optional("spin.trainer.warmup.steps", ValueType.NON_NEGATIVE_INT,
            "0", "linear warm-up steps");
    public static final ConfigKey<Double> WEIGHT_DECAY = ConfigKey.optional("spin.trainer.weight.decay", ValueType.NON_NEGATIVE_NUMBER,
            "0", "decoupled weight decay");
    public static final ConfigKey<Double> MAX_GRAD_NORM = ConfigKey.optional("spin.trainer.max.grad.norm", ValueType.NON_NEGATIVE_NUMBER,
            "1.0", "global-norm gradient clip (0: none)");
    public static final ConfigKey<Integer> BATCH_SIZE = ConfigKey.optional("spin.trainer.batch.size", ValueType.POSITIVE_INT,
            "8", "pairs per micro-batch");
    public static final ConfigKey<Integer> ACCUMULATION = ConfigKey.optional("spin.trainer.accumulation",
            ValueType.POSITIVE_INT, "1", "micro-batches per optimiser step");
    public static final ConfigKey<Integer> KEEP = ConfigKey.optional("spin.checkpoint.keep", ValueType.NON_NEGATIVE_INT, "3",
            "checkpoints kept beside the opponents, the open candidates and the resume point (without optimiser state)");
    public static final ConfigKey<Integer> CHECKPOINT_EVERY = ConfigKey.optional("spin.trainer.checkpoint.every.steps",
            ValueType.POSITIVE_INT, "50", "a candidate checkpoint every N steps");
    public static final ConfigKey<Long> IDLE_MS = ConfigKey.optional("spin.trainer.idle.ms", ValueType.POSITIVE_LONG,
            "5000", "with round.end=idle: no new pairs for this long ends the round's pass (the rest is trained and checkpointed)");
    public static final ConfigKey<Double> CONVERGED_SHARE = ConfigKey.optional("spin.trainer.converged.share",
            ValueType.FRACTION, "0.95", "share of y' = y pairs at which a round has nothing to learn");
    public static final ConfigKey<Integer> CONVERGED_MIN_PAIRS = ConfigKey.optional("spin.trainer.converged.min.pairs",
            ValueType.POSITIVE_INT, "50", "pairs a round must have seen before it may be declared converged");
    public static final ConfigKey<String> STATE_DIR = ConfigKey.optional("spin.trainer.state.dir", ValueType.TEXT,
            System.getProperty("java.io.tmpdir") + "/spin-trainer-streams", "Kafka Streams state of the pair join");
    public static final ConfigKey<Long> PROGRESS_MS = ConfigKey.optional("spin.trainer.progress.ms", ValueType.POSITIVE_LONG,
            "10000", "how often the progress line is logged");

    public static final ConfigKey<String> REJECTION_POLICY = ConfigKey.optional("spin.trainer.rejection.policy",
            ValueType.oneOf("continue", "rollback", "stop"), "continue", "what rejected candidates lead to");
    public static final ConfigKey<Integer> ROLLBACK_AFTER = ConfigKey.optional("spin.trainer.rejection.rollback.after",
            ValueType.POSITIVE_INT, "3", "rollback: rejections in a round before θ is reset to the opponent");
    public static final ConfigKey<Double> ROLLBACK_LR_FACTOR = ConfigKey.optional("spin.trainer.rejection.lr.factor",
            ValueType.FACTOR, "0.5", "rollback: the learning rate is multiplied by this at each reset");
    public static final ConfigKey<Integer> STOP_AFTER = ConfigKey.optional("spin.trainer.rejection.stop.after",
            ValueType.POSITIVE_INT, "5", "stop: rejections in a round after which the run stops as converged");

    public static final ConfigKey<Boolean> INCLUDE_PREVIOUS = ConfigKey.optional("spin.trainer.include.previous.round",
            ValueType.BOOLEAN, "false", "train round t on round t-1's pairs too, re-scored under the current opponent");

    public static final ConfigKey<String> ROUND_END = ConfigKey.optional("spin.trainer.round.end",
            ValueType.oneOf("generation", "idle"), "generation",
            "when a round's pass ends: 'generation' = as soon as the round's generators have answered every prompt, the"
                    + " pair joiner has joined every answer and this trainer has read every pair; 'idle' = no new pair for"
                    + " idle.ms (for pairs that come from elsewhere)");

    public static final ConfigKey<Integer> LORA_RANK = ConfigKey.optional("spin.trainer.lora.rank", ValueType.NON_NEGATIVE_INT, "0",
            "LoRA rank r: 0 = full fine-tuning (every weight trained); r > 0 = the base frozen and an adapter of rank r trained"
                    + " (candidates are PEFT adapters)");
    public static final ConfigKey<Double> LORA_ALPHA = ConfigKey.optional("spin.trainer.lora.alpha", ValueType.POSITIVE_NUMBER,
            "16", "lora_alpha: the adapter's output is scaled by alpha / r");
    public static final ConfigKey<Double> LORA_DROPOUT = ConfigKey.optional("spin.trainer.lora.dropout", ValueType.FRACTION, "0",
            "dropout on the adapter's input while training (below 1)");
    public static final ConfigKey<String> LORA_TARGETS = ConfigKey.optional("spin.trainer.lora.targets",
            ValueType.of("a comma-separated list of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj", s -> {
                LoraTargets.parse(s);
                return s;
            }), String.join(",", LoraConfig.PROJECTIONS), "the projections LoRA adapts");

    public static final ConfigKey<Boolean> ACTIVATION_CHECKPOINTING = ConfigKey.optional(
            "spin.trainer.activation.checkpointing", ValueType.BOOLEAN, "true",
            "a training pass keeps each layer's input only and its backward recomputes one layer at a time (and the head"
                    + " a block of positions at a time): the same gradients in a fraction of the memory, for about a third"
                    + " more compute; false keeps every layer's activations");
    public static final ConfigKey<Integer> ATTENTION_BLOCK = ConfigKey.optional("spin.model.attention.block",
            ValueType.NON_NEGATIVE_INT, String.valueOf(LlamaModel.DEFAULT_ATTENTION_BLOCK),
            "the trainer's: queries whose attention scores a layer forms at once (0: all of a sequence's): the same"
                    + " result, holding [batch, heads, block, keys] scores instead of [batch, heads, length, keys]; the"
                    + " generator's and evaluator's models use the default");

    /** raft and rrhf train on groups of K samples with rewards; the others on pairs. */
    /** Whether {@code spec} names a group objective (raft, rrhf), which trains on K rewarded samples per prompt. */
    public static boolean isGroupObjective(String spec) {
        return GroupObjective.NAMES.contains(
                spec.trim().split(":", 2)[0].toLowerCase(Locale.ROOT));
    }

    public static List<ConfigKey<?>> all() {
        List<ConfigKey<?>> all = new ArrayList<>(RoundKeys.all());
        all.addAll(List.of(STORE, KEEP, OBJECTIVE, OPTIMIZER, LR, WARMUP, WEIGHT_DECAY, MAX_GRAD_NORM, BATCH_SIZE, ACCUMULATION,
                CHECKPOINT_EVERY, IDLE_MS, CONVERGED_SHARE, CONVERGED_MIN_PAIRS, STATE_DIR, PROGRESS_MS, REJECTION_POLICY,
                ROLLBACK_AFTER, ROLLBACK_LR_FACTOR, STOP_AFTER, INCLUDE_PREVIOUS, ROUND_END, LORA_RANK, LORA_ALPHA, LORA_DROPOUT,
                LORA_TARGETS, ACTIVATION_CHECKPOINTING, ATTENTION_BLOCK));
        return all;
    }
}
