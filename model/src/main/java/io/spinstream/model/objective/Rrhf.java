package io.spinstream.model.objective;

import ai.djl.ndarray.NDArray;
import io.spinstream.model.Differentiable;
import ai.djl.ndarray.NDList;

import java.util.stream.IntStream;

/**
 * RRHF (Yuan et al. 2023): rank K candidates by the policy's length-normalised log-prob
 * p_i = (1/|y_i|)·Σ_t log π(y_i,t | x, y_i,&lt;t) as the rewards rank them. Per prompt:
 * Σ over pairs with r_i &lt; r_j of max(0, p_i − p_j), plus {@code alpha} times the mean per-token NLL
 * (−p) of the best-rewarded candidate (the paper's weight is 1); the loss is the mean over prompts.
 */
public record Rrhf(double alpha) implements GroupObjective {
    public Rrhf {
        if (!(alpha >= 0) || !Double.isFinite(alpha)) {
            throw new IllegalArgumentException("rrhf: alpha must be >= 0, got " + alpha);
        }
    }

    @Override
    public String name() {
        return "rrhf";
    }

    /** Every candidate is ranked. */
    @Override
    public int[] needed(double[] rewards, int[] starts) {
        GroupObjective.checkGroups(rewards, starts);
        return IntStream.range(0, rewards.length).toArray();
    }

    @Override
    public LossResult loss(GroupLogProbs batch) {
        NDArray p = batch.candidates().mean();
        double[] r = batch.rewards();
        NDList perGroup = new NDList();
        NDList best = new NDList();
        NDList worst = new NDList();
        for (int g = 0; g < batch.groups(); g++) {
            int from = batch.starts()[g];
            int to = batch.starts()[g + 1];
            int top = GroupObjective.best(r, from, to);
            NDArray loss = p.get(top).neg().mul(alpha);
            for (int i = from; i < to; i++) {
                for (int j = from; j < to; j++) {
                    if (r[i] < r[j]) {
                        loss = loss.add(p.get(i).sub(p.get(j)).maximum(0));
                    }
                }
            }
            perGroup.add(loss.expandDims(0));
            best.add(p.get(top).expandDims(0));
            worst.add(p.get(GroupObjective.worst(r, from, to)).expandDims(0));
        }
        return new LossResult(Differentiable.concat(perGroup).mean(), Differentiable.concat(best), Differentiable.concat(worst));
    }
}
