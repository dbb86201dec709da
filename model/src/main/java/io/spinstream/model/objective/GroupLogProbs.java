package io.spinstream.model.objective;

import io.spinstream.model.SequenceLogProbs;

/**
 * What a group objective sees: several candidate responses per prompt, their policy log-probs side by side
 * ({@code candidates} [n]) and their rewards, a constant of the data. Group g is candidates
 * {@code starts[g]} to {@code starts[g + 1] - 1}.
 */
public record GroupLogProbs(SequenceLogProbs candidates, double[] rewards, int[] starts) {
    public GroupLogProbs {
        GroupObjective.checkGroups(rewards, starts);
    }

    public int groups() {
        return starts.length - 1;
    }
}
