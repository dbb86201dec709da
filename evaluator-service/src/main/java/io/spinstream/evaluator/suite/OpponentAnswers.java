package io.spinstream.evaluator.suite;

/**
 * The opponent's own answers y' to the held-out prompts and its log-probs of y and y', computed once per
 * opponent (the preference suite compares every candidate of a round against them).
 */
public record OpponentAnswers(String[] answers, double[] logpHuman, double[] logpAnswer) {
}
