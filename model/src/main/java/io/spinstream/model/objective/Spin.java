package io.spinstream.model.objective;

/**
 * SPIN (Chen et al. 2024): L = E[ ℓ( λ(log pθ(y|x) − log pθt(y|x)) − λ(log pθ(y'|x) − log pθt(y'|x)) ) ]
 * with ℓ logistic (log(1 + e^(−t)), exactly ln 2 at θ = θt) or hinge (max(0, 1 − t)), plus α·NLL(y).
 */
public record Spin(double lambda, Loss loss, double alpha) implements Objective {

    public enum Loss { LOGISTIC, HINGE }

    public Spin {
        if (!(lambda > 0)) {
            throw new IllegalArgumentException("SPIN's lambda must be > 0, got " + lambda);
        }
        if (alpha < 0) {
            throw new IllegalArgumentException("alpha must be >= 0, got " + alpha);
        }
    }

    @Override
    public String name() {
        return loss == Loss.HINGE ? "spin-hinge" : "spin";
    }

    @Override
    public boolean usesRejected() {
        return true;
    }

    @Override
    public LossResult loss(PairLogProbs p) {
        return Objectives.onReferenceMargin(p, lambda, alpha,
                loss == Loss.HINGE ? Objectives::hinge : Objectives::logistic);
    }
}
