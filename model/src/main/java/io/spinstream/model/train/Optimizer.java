package io.spinstream.model.train;

import ai.djl.ndarray.NDArray;

import java.util.Map;

/**
 * Updates parameters in place from their (accumulated, clipped) gradients. Keeps its per-parameter
 * state (moments) itself; {@link #close()} frees it.
 */
public interface Optimizer extends AutoCloseable {

    /** One update of every parameter by its gradient at learning rate {@code lr}. */
    void update(Map<String, NDArray> parameters, Map<String, NDArray> gradients, double lr);

    /** Updates done so far (the bias-correction step of Adam). */
    long steps();

    /** Everything needed to continue exactly where it stopped: per-parameter statistics and the step count. */
    Map<String, NDArray> state();

    /** Continues from {@link #state()} as saved in a checkpoint; arrays are copied into the optimizer. */
    void restore(Map<String, NDArray> state, ai.djl.ndarray.NDManager parent);

    @Override
    void close();

    static Optimizer parse(String name, double weightDecay) {
        return switch (name.toLowerCase(java.util.Locale.ROOT)) {
            case "adamw" -> new AdamW(0.9, 0.999, 1e-8, weightDecay);
            case "rmsprop" -> new RmsProp(0.99, 1e-8, weightDecay);
            default -> throw new IllegalArgumentException("unknown optimizer '" + name + "': expected adamw or rmsprop");
        };
    }
}
