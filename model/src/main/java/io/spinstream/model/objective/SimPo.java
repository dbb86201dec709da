package io.spinstream.model.objective;

import ai.djl.ndarray.NDArray;

/**
 * SimPO (Meng et al. 2024): no reference; reward r = (β/|y|)·log pθ(y|x), loss −log σ(r_w − r_l − γ),
 * plus α·NLL(y_w).
 */
public record SimPo(double beta, double gamma, double alpha) implements Objective {

    public SimPo {
        if (!(beta > 0)) {
            throw new IllegalArgumentException("SimPO's beta must be > 0, got " + beta);
        }
    }

    @Override
    public String name() {
        return "simpo";
    }

    @Override
    public boolean usesRejected() {
        return true;
    }

    @Override
    public LossResult loss(PairLogProbs p) {
        NDArray chosen = p.chosen().mean().mul(beta);
        NDArray rejected = p.rejected().mean().mul(beta);
        NDArray t = Objectives.maskIdentical(chosen.sub(rejected), p).sub(gamma);
        return new LossResult(Objectives.withNll(Objectives.logistic(t).mean(), p, alpha), chosen, rejected);
    }
}
