package io.spinstream.runtime.config;

import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.schemas.HeldOutSplit;

import java.util.List;

/** The keys of the round protocol that the generator, trainer and evaluator must agree on. */
public final class RoundKeys {
    private RoundKeys() {
    }

    public static final ConfigKey<String> RUN_ID = ConfigKey.optional("spin.run.id", ValueType.TEXT, "spin",
            "the run whose opponent this service follows (the key on the opponent topic)");

    public static final ConfigKey<Double> HELD_OUT_SHARE = ConfigKey.optional("spin.heldout.share", ValueType.FRACTION,
            "0.1", "share of every stream kept away from training (the evaluator's prompts)");

    public static final ConfigKey<String> HELD_OUT_SALT = ConfigKey.optional("spin.heldout.salt", ValueType.TEXT, "spin",
            "salt of the held-out hash split");

    public static final ConfigKey<String> PROMPT_TEMPLATE = ConfigKey.optional("spin.prompt.template",
            ValueType.oneOf("auto", "model", "plain", "chat"), "auto",
            "how prompts are laid out before the answer: 'model' = the checkpoint's own chat template (tokenizer_config.json),"
                    + " 'auto' = that template where the checkpoint has one, else 'plain' (the prompt as it is)");

    public static final ConfigKey<Double> TEST_SHARE = ConfigKey.optional("spin.test.share", ValueType.FRACTION, "0.1",
            "share of every stream kept for reports only: never trained on, read by no gate (disjoint from the held-out share)");

    public static final ConfigKey<String> DEVICE = ConfigKey.optional("spin.device", ComputeDevice.TYPE, "auto",
            "where the model computes: auto (a GPU when the engine reports one), cpu, cuda or cuda:N");

    public static final ConfigKey<String> MODEL_DTYPE = ConfigKey.optional("spin.model.dtype",
            ValueType.of("float32 or float16 (bfloat16 is not available on this engine)", s -> {
                io.spinstream.model.Precision.parse(s);
                return s;
            }), "float32",
            "how a model that is not trained is held: the generator's and evaluator's models and, under LoRA, the trainer's"
                    + " frozen base; float16 halves their memory (trained weights, adapters and optimiser moments stay float32)");

    public static final ConfigKey<String> COMPUTE_DTYPE = ConfigKey.optional("spin.model.compute.dtype",
            ValueType.oneOf("auto", "float32", "float16"), "auto",
            "the type forward passes compute in: auto = float32 on the CPU, float16 on a GPU; losses and summed log-probs"
                    + " are float32 whatever it is");

    public static List<ConfigKey<?>> all() {
        return List.of(RUN_ID, HELD_OUT_SHARE, HELD_OUT_SALT, TEST_SHARE, PROMPT_TEMPLATE, DEVICE, MODEL_DTYPE, COMPUTE_DTYPE);
    }

    /** How a model that is not trained is held and computes, on {@code device}. */
    public static io.spinstream.model.Precision precision(ServiceConfig c, ai.djl.Device device) {
        ai.djl.ndarray.types.DataType weights = io.spinstream.model.Precision.parse(c.get(MODEL_DTYPE));
        String compute = c.get(COMPUTE_DTYPE);
        ai.djl.ndarray.types.DataType type = compute.equals("auto")
                ? (device.isGpu() ? ai.djl.ndarray.types.DataType.FLOAT16 : ai.djl.ndarray.types.DataType.FLOAT32)
                : io.spinstream.model.Precision.parse(compute);
        return new io.spinstream.model.Precision(weights, type);
    }

    /** The device this service computes on, checked against the engine (a GPU it does not report is refused). */
    public static ai.djl.Device device(ServiceConfig c) {
        return new ComputeDevice(c.get(DEVICE)).resolve();
    }

    public static HeldOutSplit split(ServiceConfig c) {
        return new HeldOutSplit(c.get(HELD_OUT_SHARE), c.get(HELD_OUT_SALT), c.get(TEST_SHARE));
    }

    public static PromptTemplate template(ServiceConfig c) {
        return PromptTemplate.valueOf(c.get(PROMPT_TEMPLATE).toUpperCase(java.util.Locale.ROOT));
    }
}
