package io.spinstream.model;

import ai.djl.ndarray.NDArray;

/**
 * Per-sequence log-probability of each response given its prompt: {@code sum} = log p(y|x) [batch],
 * {@code mean} = sum / response tokens [batch]. Differentiable when computed under a gradient collector.
 */
public record SequenceLogProbs(NDArray sum, NDArray mean, NDArray lengths) {
}
