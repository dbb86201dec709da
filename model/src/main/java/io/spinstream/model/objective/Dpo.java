package io.spinstream.model.objective;

import ai.djl.ndarray.NDArray;

/**
 * DPO (Rafailov et al. 2023): −log σ(β(log pθ(y_w) − log p_ref(y_w)) − β(log pθ(y_l) − log p_ref(y_l)))
 * against a frozen reference, plus α·NLL(y_w). The same form as logistic SPIN with β for λ.
 */
public record Dpo(double beta, double alpha) implements Objective {

    public Dpo {
        if (!(beta > 0)) {
            throw new IllegalArgumentException("DPO's beta must be > 0, got " + beta);
        }
    }

    @Override
    public String name() {
        return "dpo";
    }

    @Override
    public boolean usesRejected() {
        return true;
    }

    @Override
    public LossResult loss(PairLogProbs p) {
        NDArray chosen = p.chosen().sum().sub(p.refChosen()).mul(beta);
        NDArray rejected = p.rejected().sum().sub(p.refRejected()).mul(beta);
        NDArray t = Objectives.maskIdentical(chosen.sub(rejected), p);
        return new LossResult(Objectives.withNll(Objectives.logistic(t).mean(), p, alpha), chosen, rejected);
    }
}
