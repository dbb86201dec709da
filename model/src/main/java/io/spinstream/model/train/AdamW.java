package io.spinstream.model.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import java.util.HashMap;
import java.util.Map;

/** Adam with decoupled weight decay (Loshchilov and Hutter), as torch.optim.AdamW. */
public final class AdamW implements Optimizer {
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private final Map<String, NDArray> m = new HashMap<>();
    private final Map<String, NDArray> v = new HashMap<>();
    private NDManager state;
    private long steps;

    public AdamW(double beta1, double beta2, double eps, double weightDecay) {
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    @Override
    public void update(Map<String, NDArray> parameters, Map<String, NDArray> gradients, double lr) {
        steps++;
        double correction1 = 1 - Math.pow(beta1, steps);
        double correction2 = 1 - Math.pow(beta2, steps);
        for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
            NDArray p = e.getValue();
            NDArray g = gradients.get(e.getKey());
            if (state == null) {
                state = p.getManager().newSubManager();
            }
            NDArray mt = m.computeIfAbsent(e.getKey(), k -> state.zeros(p.getShape(), p.getDataType()));
            NDArray vt = v.computeIfAbsent(e.getKey(), k -> state.zeros(p.getShape(), p.getDataType()));
            try (NDManager scope = state.newSubManager()) {
                mt.muli(beta1).addi(g.mul(1 - beta1));
                vt.muli(beta2).addi(g.square().muli(1 - beta2));
                if (weightDecay != 0) {
                    p.muli(1 - lr * weightDecay);
                }
                NDArray denom = vt.div(correction2).sqrt().addi(eps);
                NDArray step = mt.div(correction1).divi(denom).muli(lr);
                step.attach(scope);
                denom.attach(scope);
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
