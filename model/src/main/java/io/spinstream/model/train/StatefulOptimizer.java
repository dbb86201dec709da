package io.spinstream.model.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import java.util.HashMap;
import java.util.Map;

/**
 * An optimiser that keeps running statistics per parameter (Adam's moments, RMSProp's mean square) in a
 * manager of its own, and gives each parameter's update a scope for its temporaries.
 */
abstract class StatefulOptimizer implements Optimizer {
    private final int buffersPerParameter;
    private final Map<String, NDArray[]> buffers = new HashMap<>();
    private NDManager state;
    private long steps;

    StatefulOptimizer(int buffersPerParameter) {
        this.buffersPerParameter = buffersPerParameter;
    }

    /**
     * Updates {@code p} in place from {@code g}; {@code buffers} are this parameter's statistics (zeros at
     * first), {@code step} counts from 1; temporaries go to {@code scope}.
     */
    abstract void update(NDArray p, NDArray g, NDArray[] buffers, double lr, long step, NDManager scope);

    @Override
    public final void update(Map<String, NDArray> parameters, Map<String, NDArray> gradients, double lr) {
        steps++;
        for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
            NDArray p = e.getValue();
            if (state == null) {
                state = p.getManager().newSubManager();
            }
            NDArray[] b = buffers.computeIfAbsent(e.getKey(), k -> {
                NDArray[] fresh = new NDArray[buffersPerParameter];
                for (int i = 0; i < fresh.length; i++) {
                    fresh[i] = state.zeros(p.getShape(), p.getDataType());
                }
                return fresh;
            });
            try (NDManager scope = state.newSubManager()) {
                update(p, gradients.get(e.getKey()), b, lr, steps, scope);
            }
        }
    }

    @Override
    public final long steps() {
        return steps;
    }

    @Override
    public final void close() {
        if (state != null) {
            state.close();
        }
    }
}
