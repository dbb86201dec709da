package io.spinstream.model.objective;

/**
 * A training objective over pairs (SPIN, DPO, SimPO) or over the preferred response only (SFT). Every
 * objective is built on the same sequence log-probs, and each can add an NLL term on the preferred
 * response with weight {@code alpha} (0 = none), which counters likelihood displacement.
 */
public interface Objective {

    String name();

    /** False for SFT: the rejected responses need not be computed. */
    boolean usesRejected();

    LossResult loss(PairLogProbs batch);

    static Objective parse(String spec) {
        return Objectives.parse(spec);
    }
}
