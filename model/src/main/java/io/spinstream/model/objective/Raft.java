package io.spinstream.model.objective;

import ai.djl.ndarray.NDArray;
import io.spinstream.model.Differentiable;
import ai.djl.ndarray.NDList;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * RAFT (reward-ranked fine-tuning, Dong et al. 2023): of each prompt's K candidates keep the best
 * {@code top} by reward, only those with reward at least {@code minReward}, and fine-tune on them: the loss
 * is the mean per-token NLL of the kept responses (SFT's). RAFT's iteration is the round: the candidates
 * come from the opponent, and the next round's from the promoted candidate.
 */
public record Raft(int top, double minReward) implements GroupObjective {
    public Raft {
        if (top < 1) {
            throw new IllegalArgumentException("raft: top must be >= 1, got " + top);
        }
        if (Double.isNaN(minReward)) {
            throw new IllegalArgumentException("raft: min.reward must be a number");
        }
    }

    @Override
    public String name() {
        return "raft";
    }

    @Override
    public int[] needed(double[] rewards, int[] starts) {
        GroupObjective.checkGroups(rewards, starts);
        List<Integer> kept = new ArrayList<>();
        for (int g = 0; g + 1 < starts.length; g++) {
            Integer[] order = new Integer[starts[g + 1] - starts[g]];
            for (int i = 0; i < order.length; i++) {
                order[i] = starts[g] + i;
            }
            // Highest reward first; equal rewards keep their order (the first sample wins a tie).
            Arrays.sort(order, (a, b) -> Double.compare(rewards[b], rewards[a]));
            for (int i = 0; i < Math.min(top, order.length); i++) {
                if (rewards[order[i]] >= minReward) {
                    kept.add(order[i]);
                }
            }
        }
        return kept.stream().sorted().mapToInt(Integer::intValue).toArray();
    }

    /** Every candidate given is one RAFT kept: SFT on all of them. */
    @Override
    public LossResult loss(GroupLogProbs batch) {
        NDArray mean = batch.candidates().mean();
        NDList best = new NDList();
        NDList worst = new NDList();
        for (int g = 0; g < batch.groups(); g++) {
            int from = batch.starts()[g];
            int to = batch.starts()[g + 1];
            best.add(mean.get(GroupObjective.best(batch.rewards(), from, to)).expandDims(0));
            worst.add(mean.get(GroupObjective.worst(batch.rewards(), from, to)).expandDims(0));
        }
        return new LossResult(mean.neg().mean(), Differentiable.concat(best), Differentiable.concat(worst));
    }
}
