package io.spinstream.model;

import ai.djl.ndarray.types.DataType;

import java.util.Locale;

/**
 * How a model's weights are kept and in what type it computes. Weights kept in float16 halve the memory
 * of a frozen base (LoRA); a forward pass converts each weight to the compute type in its own scope, so no
 * float32 copy of the whole base is ever held. (bfloat16 is not offered: DJL 0.35's PyTorch binding
 * aborts the process on bfloat16 tensors.) Trained parameters (a full fine-tune's
 * weights, LoRA adapters), optimiser moments, losses and summed log-probs stay float32.
 */
public record Precision(DataType weights, DataType compute) {
    public static final Precision FLOAT32 = new Precision(DataType.FLOAT32, DataType.FLOAT32);
    /** For gradient checks against finite differences. */
    public static final Precision FLOAT64 = new Precision(DataType.FLOAT64, DataType.FLOAT64);

    public Precision {
        check(weights, "weights");
        check(compute, "compute");
    }

    private static void check(DataType t, String what) {
        if (t != DataType.FLOAT32 && t != DataType.FLOAT16 && t != DataType.FLOAT64) {
            throw new IllegalArgumentException(what + " type must be float32 or float16, got " + t);
        }
    }

    /** "float32" or "float16" (also "fp32", "fp16"); bfloat16 is refused with the reason. */
    public static DataType parse(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "float32", "fp32", "f32" -> DataType.FLOAT32;
            case "float16", "fp16", "f16", "half" -> DataType.FLOAT16;
            case "bfloat16", "bf16" -> throw new IllegalArgumentException("bfloat16 cannot be held by this engine (DJL 0.35's"
                    + " PyTorch binding aborts on bfloat16 tensors): use float16; bfloat16 checkpoints load exactly into float32"
                    + " and from there into float16");
            default -> throw new IllegalArgumentException("unknown dtype '" + name + "': expected float32 or float16");
        };
    }

    public static String nameOf(DataType t) {
        return switch (t) {
            case FLOAT16 -> "float16";
            case FLOAT64 -> "float64";
            default -> "float32";
        };
    }

    /** True for a type training keeps its parameters in (float32, or float64 in gradient checks). */
    public static boolean isFull(DataType t) {
        return t == DataType.FLOAT32 || t == DataType.FLOAT64;
    }

    @Override
    public String toString() {
        return "weights " + nameOf(weights) + ", compute " + nameOf(compute);
    }
}
