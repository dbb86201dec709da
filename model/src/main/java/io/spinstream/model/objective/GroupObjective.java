package io.spinstream.model.objective;

import java.util.List;

/**
 * A training objective over groups of K candidate responses per prompt, each with a reward (RAFT, RRHF):
 * the reward-model family of the founding material. Built on the same sequence log-probs as the pair
 * objectives; only the loss differs.
 */
public sealed interface GroupObjective permits Raft, Rrhf {

    String name();

    /**
     * The candidates the loss depends on, by index into the batch, chosen from the rewards alone (RAFT
     * trains on the best only, so only those need a forward pass).
     *
     * @param starts group g is candidates starts[g] .. starts[g+1]-1
     */
    int[] needed(double[] rewards, int[] starts);

    /**
     * The loss over the candidates {@link #needed} chose (in that order, with their rewards and group
     * starts renumbered accordingly); its "chosen" and "rejected" rewards are each group's best- and
     * worst-rewarded candidate's mean log-prob, so the reported margin and accuracy say whether the policy
     * ranks the groups as the rewards do.
     */
    LossResult loss(GroupLogProbs batch);

    static GroupObjective parse(String spec) {
        return Objectives.parseGroup(spec);
    }

    /** The names {@link #parse} knows. */
    List<String> NAMES = List.of("raft", "rrhf");

    /** Index of the highest reward in [from, to): the first of equals. */
    static int best(double[] rewards, int from, int to) {
        int best = from;
        for (int i = from + 1; i < to; i++) {
            if (rewards[i] > rewards[best]) {
                best = i;
            }
        }
        return best;
    }

    /** Index of the lowest reward in [from, to): the last of equals (so that a group of equals has best != worst). */
    static int worst(double[] rewards, int from, int to) {
        int worst = from;
        for (int i = from + 1; i < to; i++) {
            if (rewards[i] <= rewards[worst]) {
                worst = i;
            }
        }
        return worst;
    }

    static void checkGroups(double[] rewards, int[] starts) {
        if (starts.length < 2 || starts[0] != 0 || starts[starts.length - 1] != rewards.length) {
            throw new IllegalArgumentException("group starts must run from 0 to the number of candidates (" + rewards.length + ")");
        }
        for (int g = 0; g + 1 < starts.length; g++) {
            if (starts[g + 1] <= starts[g]) {
                throw new IllegalArgumentException("group " + g + " is empty");
            }
        }
        for (double r : rewards) {
            if (!Double.isFinite(r)) {
                throw new IllegalArgumentException("rewards must be finite, got " + r);
            }
        }
    }
}
