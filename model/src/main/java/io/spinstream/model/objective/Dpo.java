package io.spinstream.model.objective;

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
        return Objectives.logisticOnReferenceMargin(p, beta, alpha);
    }
}
