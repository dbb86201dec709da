package io.spinstream.trainer.round;

import ai.djl.ndarray.NDManager;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.LogProbs;
import io.spinstream.model.TokenBatch;
import io.spinstream.model.train.PreferenceBatch;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Turns the pairs of one optimiser step into micro-batches with their reference log-probs. Round t's
 * pairs carry θt's own log-probs; round t−1's carry the previous opponent's, and SPIN's reference is θt,
 * so they are scored again under a frozen θt ({@code reference}).
 */
public final class StepAssembler {
    private final int batchSize;
    private final LlamaModel reference; // null unless round t−1's pairs are trained
    private final NDManager manager;
    private long rescored;

    public StepAssembler(int batchSize, LlamaModel reference, NDManager manager) {
        this.batchSize = batchSize;
        this.reference = reference;
        this.manager = manager;
    }

    public List<PreferenceBatch> assemble(List<Intake.Accepted> pairs) {
        List<PreferenceBatch> micro = new ArrayList<>();
        for (int from = 0; from < pairs.size(); from += batchSize) {
            List<Intake.Accepted> chunk = pairs.subList(from, Math.min(pairs.size(), from + batchSize));
            double[] refChosen = chunk.stream().mapToDouble(r -> r.pair().getOpponentLogpHuman()).toArray();
            double[] refRejected = chunk.stream().mapToDouble(r -> r.pair().getOpponentLogpSynthetic()).toArray();
            rescorePrevious(chunk, refChosen, refRejected);
            micro.add(new PreferenceBatch(chunk.stream().map(Intake.Accepted::chosen).toList(),
                    chunk.stream().map(Intake.Accepted::rejected).toList(), refChosen, refRejected));
        }
        return micro;
    }

    private void rescorePrevious(List<Intake.Accepted> chunk, double[] refChosen, double[] refRejected) {
        List<Integer> previous = IntStream.range(0, chunk.size()).filter(i -> chunk.get(i).previousRound()).boxed().toList();
        if (previous.isEmpty()) {
            return;
        }
        if (reference == null) {
            throw new IllegalStateException("round t-1 pairs need the frozen opponent to re-score them");
        }
        List<TokenBatch.Example> examples = new ArrayList<>();
        previous.forEach(i -> examples.add(chunk.get(i).chosen()));
        previous.forEach(i -> examples.add(chunk.get(i).rejected()));
        double[] lp = LogProbs.sums(reference, manager, examples, reference.config().padTokenId());
        for (int j = 0; j < previous.size(); j++) {
            refChosen[previous.get(j)] = lp[j];
            refRejected[previous.get(j)] = lp[previous.size() + j];
        }
        rescored += previous.size();
    }

    /** The step's prompts as micro-batches of groups (each prompt's candidates with their rewards). */
    public List<io.spinstream.model.train.GroupBatch> assembleGroups(List<Intake.Accepted> pairs) {
        List<io.spinstream.model.train.GroupBatch> micro = new ArrayList<>();
        for (int from = 0; from < pairs.size(); from += batchSize) {
            List<Intake.Accepted> chunk = pairs.subList(from, Math.min(pairs.size(), from + batchSize));
            micro.add(io.spinstream.model.train.GroupBatch.of(chunk.stream().map(a -> a.group().candidates()).toList(),
                    chunk.stream().map(a -> a.group().rewards()).toList()));
        }
        return micro;
    }

    /** Pairs of round t−1 scored again so far. */
    public long rescored() {
        return rescored;
    }
}
