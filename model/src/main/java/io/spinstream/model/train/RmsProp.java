package io.spinstream.model.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import java.util.HashMap;
import java.util.Map;

/** RMSProp as torch.optim.RMSprop (no momentum, not centered): the SPIN paper's optimiser. */
public final class RmsProp implements Optimizer {
    private final double alpha;
    private final double eps;
    private final double weightDecay;
    private final Map<String, NDArray> square = new HashMap<>();
    private NDManager state;
    private long steps;

    public RmsProp(double alpha, double eps, double weightDecay) {
        this.alpha = alpha;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    @Override
    public void update(Map<String, NDArray> parameters, Map<String, NDArray> gradients, double lr) {
        steps++;
        for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
            NDArray p = e.getValue();
            NDArray g = gradients.get(e.getKey());
            if (state == null) {
                state = p.getManager().newSubManager();
            }
            NDArray s = square.computeIfAbsent(e.getKey(), k -> state.zeros(p.getShape(), p.getDataType()));
            try (NDManager scope = state.newSubManager()) {
                NDArray grad = g;
                if (weightDecay != 0) {
                    grad = g.add(p.mul(weightDecay));
                    grad.attach(scope);
                }
                s.muli(alpha).addi(grad.square().muli(1 - alpha));
                NDArray step = grad.div(s.sqrt().addi(eps)).muli(lr);
                step.attach(scope);
                p.subi(step);
            }
        }
    }

    @Override
    public long steps() {
        return steps;
    }

    @Override
    public void close() {
        if (state != null) {
            state.close();
        }
    }
}
