package io.spinstream.model.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/** Adam with decoupled weight decay (Loshchilov and Hutter), as torch.optim.AdamW. */
public final class AdamW extends StatefulOptimizer {
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;

    public AdamW(double beta1, double beta2, double eps, double weightDecay) {
        super(2);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    @Override
    void update(NDArray p, NDArray g, NDArray[] moments, double lr, long step, NDManager scope) {
        NDArray m = moments[0];
        NDArray v = moments[1];
        m.muli(beta1).addi(attach(g.mul(1 - beta1), scope));
        v.muli(beta2).addi(attach(g.square().muli(1 - beta2), scope));
        if (weightDecay != 0) {
            p.muli(1 - lr * weightDecay);
        }
        NDArray denom = attach(v.div(1 - Math.pow(beta2, step)).sqrt().addi(eps), scope);
        p.subi(attach(m.div(1 - Math.pow(beta1, step)).divi(denom).muli(lr), scope));
    }

    static NDArray attach(NDArray temporary, NDManager scope) {
        temporary.attach(scope);
        return temporary;
    }
}
