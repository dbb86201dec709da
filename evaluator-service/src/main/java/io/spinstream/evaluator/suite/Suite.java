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

    /** The metric of the model in {@code s} (null when no prompt applies). */
    Double score(Scoring s);

    /**
     * The baseline's value when the model under test is the opponent itself; by default its own score.
     */
    default Double baseline(Scoring opponentScoring) {
        return score(opponentScoring);
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
