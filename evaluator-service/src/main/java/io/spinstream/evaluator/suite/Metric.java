package io.spinstream.evaluator.suite;

/** A metric's name and which way is better. */
public record Metric(String name, boolean higherIsBetter) {
    public static final Metric HELD_OUT_NLL = new Metric("heldout_nll", false);
    public static final Metric PREFERENCE_ACCURACY = new Metric("preference_accuracy", true);
    public static final Metric EXACT_MATCH = new Metric("exact_match", true);

    public static Metric named(String name) {
        return switch (name) {
            case "heldout_nll" -> HELD_OUT_NLL;
            case "preference_accuracy" -> PREFERENCE_ACCURACY;
            case "exact_match" -> EXACT_MATCH;
            default -> throw new IllegalArgumentException("unknown metric '" + name
                    + "': expected heldout_nll, preference_accuracy or exact_match");
        };
    }

    /** How much better {@code candidate} is than {@code baseline} (negative: worse). */
    public double improvement(double candidate, double baseline) {
        return higherIsBetter ? candidate - baseline : baseline - candidate;
    }
}
