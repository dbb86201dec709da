package io.spinstream.model.objective;

/** Supervised fine-tuning: the mean per-token NLL of the preferred (human) responses. */
public record Sft() implements Objective {

    @Override
    public String name() {
        return "sft";
    }

    @Override
    public boolean usesRejected() {
        return false;
    }

    @Override
    public LossResult loss(PairLogProbs p) {
        return new LossResult(Objectives.nll(p), p.chosen().mean(), p.chosen().mean().zerosLike());
    }
}
