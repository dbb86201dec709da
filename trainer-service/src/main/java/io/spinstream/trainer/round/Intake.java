package io.spinstream.trainer.round;

import io.spinstream.model.TokenBatch;
import io.spinstream.schemas.TrainingPair;

/** What became of one pair read from the pairs topic. */
public sealed interface Intake {

    /**
     * Ready to train: its position, the pair and its token sequences ({@code chosen} null when the prompt
     * has no human answer, which only a group objective accepts).
     */
    record Accepted(PartitionKey partition, long offset, TrainingPair pair, TokenBatch.Example chosen,
                    TokenBatch.Example rejected, boolean previousRound, Group group) implements Intake {
    }

    /** A prompt's candidates with their rewards, for a group objective: the human answer first, then the samples. */
    record Group(java.util.List<TokenBatch.Example> candidates, double[] rewards) {
    }

    /** Written by another opponent or round: not this round's to train. */
    record Stale(String reason) implements Intake {
    }

    /** The prompt has no human answer and the objective needs one (SPIN, DPO, SimPO): skipped and counted, not a dead letter. */
    record Unlabelled(String promptId) implements Intake {
    }

    /** Cannot be trained (does not tokenize, exceeds the context): a dead letter with this reason. */
    record Invalid(String reason) implements Intake {
    }
}
