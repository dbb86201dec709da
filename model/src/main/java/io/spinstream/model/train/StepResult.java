package io.spinstream.model.train;

/**
 * What one optimiser step did. {@code skipped} is true when the loss or a gradient was NaN/inf: no
 * parameter changed.
 */
public record StepResult(long step, double loss, double gradNorm, double learningRate, double margin,
                         double rewardAccuracy, long tokens, boolean skipped) {
}
