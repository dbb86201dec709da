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

    static final String STEPS = "optimizer.steps";

    @Override
    public final Map<String, NDArray> state() {
        Map<String, NDArray> out = new java.util.LinkedHashMap<>();
        buffers.forEach((name, b) -> {
            for (int i = 0; i < b.length; i++) {
                out.put(name + "#" + i, b[i]);
            }
        });
        if (state != null) {
            out.put(STEPS, state.create(new double[]{steps}));
        }
        return out;
    }

    @Override
    public final void restore(Map<String, NDArray> saved, NDManager parent) {
        if (state == null) {
            state = parent.newSubManager();
        }
        saved.forEach((key, value) -> {
            if (key.equals(STEPS)) {
                steps = (long) value.toType(ai.djl.ndarray.types.DataType.FLOAT64, false).getDouble(0);
                return;
            }
            int hash = key.lastIndexOf('#');
            if (hash < 0) {
                return; // not ours
            }
            String name = key.substring(0, hash);
            int index = Integer.parseInt(key.substring(hash + 1));
            NDArray[] b = buffers.computeIfAbsent(name, k -> new NDArray[buffersPerParameter]);
            NDArray copy = value.duplicate();
            copy.attach(state);
            b[index] = copy;
        });
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
