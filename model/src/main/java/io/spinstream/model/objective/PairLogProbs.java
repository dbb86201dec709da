package io.spinstream.model.objective;

import ai.djl.ndarray.NDArray;
import io.spinstream.model.SequenceLogProbs;

/**
 * What a pairwise objective sees for a batch of pairs: the policy's log-probs of the preferred (human)
 * and rejected (opponent) responses, the reference's (the opponent θt for SPIN) as constants, and which
 * pairs have identical responses (they carry no gradient).
 *
 * @param identical 1 where y' = y, else 0 [batch]
 */
public record PairLogProbs(SequenceLogProbs chosen, SequenceLogProbs rejected, NDArray refChosen,
                           NDArray refRejected, NDArray identical) {
}
