package io.spinstream.model.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import static io.spinstream.model.train.AdamW.attach;

/** RMSProp as torch.optim.RMSprop (no momentum, not centered): the SPIN paper's optimiser. */
public final class RmsProp extends StatefulOptimizer {
    private final double alpha;
    private final double eps;
    private final double weightDecay;

    public RmsProp(double alpha, double eps, double weightDecay) {
        super(1);
        this.alpha = alpha;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    @Override
    void update(NDArray p, NDArray g, NDArray[] meanSquare, double lr, long step, NDManager scope) {
        NDArray grad = weightDecay == 0 ? g : attach(g.add(p.mul(weightDecay)), scope);
        NDArray s = meanSquare[0];
        s.muli(alpha).addi(attach(grad.square().muli(1 - alpha), scope));
        p.subi(attach(grad.div(attach(s.sqrt().addi(eps), scope)).muli(lr), scope));
    }
}
