package io.spinstream.evaluator.suite;

import java.util.Map;

/**
 * One pluggable evaluation: scores a model on held-out prompts. A stream's prompts say which suites
 * apply to them (task metadata {@code suites}; empty: the defaults), and a suite skips the prompts it
 * does not apply to.
 */
public interface Suite {

    String name();

    /** The metrics this suite reports. */
    Metric metric();

    /**
     * The metric of the model in {@code s}, per prompt it applies to, in the prompts' order (null when
     * none applies): the values of two models scored on the same prompts are paired.
     */
    double[] score(Scoring s);

    /** The baseline's values when the model under test is the opponent itself; by default its own. */
    default double[] baseline(Scoring opponentScoring) {
        return score(opponentScoring);
    }

    /** The metric's estimate from per-prompt values: their mean. */
    static double mean(double[] values) {
        return java.util.Arrays.stream(values).average().orElse(Double.NaN);
    }

    default boolean appliesTo(io.spinstream.schemas.Prompt p) {
        return p.getTask() == null || p.getTask().getSuites().isEmpty() || p.getTask().getSuites().contains(name());
    }

    static Suite named(String name) {
        return switch (name) {
            case "nll" -> new HeldOutNll();
            case "preference" -> new PreferenceAccuracy();
            case "exact_match" -> new ExactMatch();
            default -> throw new IllegalArgumentException("unknown suite '" + name + "': expected nll, preference or exact_match");
        };
    }
}
