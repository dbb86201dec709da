package io.spinstream.model.train;

import io.spinstream.model.TokenBatch;
import io.spinstream.model.objective.GroupObjective;

import java.util.ArrayList;
import java.util.List;

/**
 * A micro-batch of groups: each prompt's candidate responses (K samples, the human response where there
 * is one) with their rewards. Group g is candidates {@code starts[g]} .. {@code starts[g+1]-1}.
 */
public record GroupBatch(List<TokenBatch.Example> candidates, double[] rewards, int[] starts) {
    public GroupBatch {
        if (candidates.size() != rewards.length) {
            throw new IllegalArgumentException("a group batch needs one reward per candidate: " + candidates.size()
                    + " candidates, " + rewards.length + " rewards");
        }
        GroupObjective.checkGroups(rewards, starts);
        candidates = List.copyOf(candidates);
    }

    /** One group per list of candidates, in order. */
    public static GroupBatch of(List<List<TokenBatch.Example>> groups, List<double[]> rewards) {
        List<TokenBatch.Example> all = new ArrayList<>();
        double[] r = new double[groups.stream().mapToInt(List::size).sum()];
        int[] starts = new int[groups.size() + 1];
        for (int g = 0; g < groups.size(); g++) {
            if (groups.get(g).size() != rewards.get(g).length) {
                throw new IllegalArgumentException("group " + g + " has " + groups.get(g).size() + " candidates and "
                        + rewards.get(g).length + " rewards");
            }
            System.arraycopy(rewards.get(g), 0, r, all.size(), rewards.get(g).length);
            all.addAll(groups.get(g));
            starts[g + 1] = all.size();
        }
        return new GroupBatch(all, r, starts);
    }

    public int groups() {
        return starts.length - 1;
    }

    /** Only the candidates at {@code indices} (ascending), groups renumbered; empty groups disappear. Null when nothing is left. */
    public GroupBatch select(int[] indices) {
        if (indices.length == 0) {
            return null;
        }
        List<TokenBatch.Example> kept = new ArrayList<>();
        double[] r = new double[indices.length];
        List<Integer> newStarts = new ArrayList<>(List.of(0));
        int g = 0;
        for (int k = 0; k < indices.length; k++) {
            int i = indices[k];
            if (k > 0 && i <= indices[k - 1]) {
                throw new IllegalArgumentException("indices must ascend");
            }
            while (i >= starts[g + 1]) {
                g++;
                if (kept.size() > newStarts.get(newStarts.size() - 1)) {
                    newStarts.add(kept.size());
                }
            }
            kept.add(candidates.get(i));
            r[k] = rewards[i];
        }
        newStarts.add(kept.size());
        return new GroupBatch(kept, r, newStarts.stream().mapToInt(Integer::intValue).toArray());
    }
}
