package io.spinstream.model.train;

import io.spinstream.model.TokenBatch;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A micro-batch of pairs (x, y, y') with the reference's log-probs of y and y' (for SPIN: the opponent's,
 * carried on each training pair). Responses are token ids ending with EOS.
 */
public record PreferenceBatch(List<TokenBatch.Example> chosen, List<TokenBatch.Example> rejected,
                              double[] refChosen, double[] refRejected) {

    public PreferenceBatch {
        if (chosen.isEmpty() || chosen.size() != rejected.size() || refChosen.length != chosen.size()
                || refRejected.length != chosen.size()) {
            throw new IllegalArgumentException("a preference batch needs as many rejected responses and reference"
                    + " log-probs as chosen ones, and at least one");
        }
    }

    /** SFT batches need no rejected responses: they repeat the chosen ones with zero references. */
    public static PreferenceBatch sft(List<TokenBatch.Example> examples) {
        double[] zeros = new double[examples.size()];
        return new PreferenceBatch(examples, examples, zeros, zeros);
    }

    public int size() {
        return chosen.size();
    }

    /** 1 where the rejected response is the chosen one token for token. */
    public float[] identical() {
        float[] out = new float[size()];
        for (int i = 0; i < size(); i++) {
            out[i] = Arrays.equals(chosen.get(i).response(), rejected.get(i).response()) ? 1f : 0f;
        }
        return out;
    }

    /** Chosen then rejected in one batch, so that one forward pass scores both. */
    public List<TokenBatch.Example> stacked() {
        List<TokenBatch.Example> all = new ArrayList<>(chosen);
        all.addAll(rejected);
        return all;
    }
}
