package io.spinstream.generator;

import io.spinstream.runtime.config.ConfigKey;
import io.spinstream.runtime.config.ValueType;

import java.util.List;

/** The generator's own configuration keys (beside the common ones). */
public final class GeneratorKeys {
    private GeneratorKeys() {
    }

    public static final ConfigKey<String> RUN_ID = ConfigKey.optional("spin.run.id", ValueType.TEXT, "spin",
            "the run whose opponent this service follows (the key on the opponent topic)");
    public static final ConfigKey<Integer> BATCH_SIZE = ConfigKey.optional("spin.generator.batch.size",
            ValueType.POSITIVE_INT, "16", "prompts answered together");
    public static final ConfigKey<Long> BATCH_WAIT_MS = ConfigKey.optional("spin.generator.batch.wait.ms",
            ValueType.POSITIVE_LONG, "200", "longest wait for a batch to fill");
    public static final ConfigKey<Double> TEMPERATURE = ConfigKey.optional("spin.generator.temperature",
            ValueType.of("a number >= 0", s -> {
                double v = Double.parseDouble(s);
                if (!(v >= 0)) {
                    throw new IllegalArgumentException("negative");
                }
                return v;
            }), "1.0", "sampling temperature of the opponent's answers (0: greedy)");
    public static final ConfigKey<Double> TOP_P = ConfigKey.optional("spin.generator.top.p", ValueType.FRACTION, "1.0",
            "nucleus sampling share");
    public static final ConfigKey<Integer> MAX_NEW_TOKENS = ConfigKey.optional("spin.generator.max.new.tokens",
            ValueType.POSITIVE_INT, "64", "longest answer in tokens");
    public static final ConfigKey<Long> SEED = ConfigKey.optional("spin.generator.seed", ValueType.of(
            "a whole number", Long::parseLong), "0", "base of the per-prompt sampling seeds");
    public static final ConfigKey<Double> HELD_OUT_SHARE = ConfigKey.optional("spin.heldout.share", ValueType.FRACTION,
            "0.1", "share of every stream kept away from training (the evaluator's prompts)");
    public static final ConfigKey<String> HELD_OUT_SALT = ConfigKey.optional("spin.heldout.salt", ValueType.TEXT, "spin",
            "salt of the held-out hash split");
    public static final ConfigKey<String> PROMPT_TEMPLATE = ConfigKey.optional("spin.prompt.template",
            ValueType.of("plain or chat", s -> switch (s.toLowerCase()) {
                case "plain", "chat" -> s.toUpperCase();
                default -> throw new IllegalArgumentException(s);
            }), "plain", "how prompts are laid out before the answer");

    public static List<ConfigKey<?>> all() {
        return List.of(RUN_ID, BATCH_SIZE, BATCH_WAIT_MS, TEMPERATURE, TOP_P, MAX_NEW_TOKENS, SEED, HELD_OUT_SHARE,
                HELD_OUT_SALT, PROMPT_TEMPLATE);
    }
}
