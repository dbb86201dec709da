package io.spinstream.evaluator;

import io.spinstream.runtime.config.ConfigKey;
import io.spinstream.runtime.config.RoundKeys;
import io.spinstream.runtime.config.ValueType;

import java.util.ArrayList;
import java.util.List;

/** The evaluator's configuration keys. */
public final class EvaluatorKeys {
    private EvaluatorKeys() {
    }

    private static final ValueType<List<String>> SUITES = ValueType.of("a comma-separated list of nll, preference, exact_match",
            s -> {
                List<String> out = new ArrayList<>();
                for (String part : s.split(",")) {
                    String name = part.trim();
                    if (!List.of("nll", "preference", "exact_match").contains(name)) {
                        throw new IllegalArgumentException(name);
                    }
                    out.add(name);
                }
                return List.copyOf(out);
            });

    public static final ConfigKey<List<String>> SUITES_RUN = ConfigKey.optional("spin.evaluator.suites", SUITES,
            "nll,preference,exact_match", "suites this instance runs");
    public static final ConfigKey<List<String>> SUITES_REQUIRED = ConfigKey.optional("spin.evaluator.required.suites",
            SUITES, "nll,preference,exact_match", "suites that must all pass before a candidate is promoted");
    public static final ConfigKey<String> PRIMARY = ConfigKey.optional("spin.gate.primary", ValueType.of(
            "heldout_nll, preference_accuracy or exact_match", s -> {
                io.spinstream.evaluator.suite.Metric.named(s);
                return s;
            }), "heldout_nll", "the metric that must improve");
    public static final ConfigKey<Double> MARGIN = ConfigKey.optional("spin.gate.margin", ValueType.NUMBER, "0.001",
            "how much the primary metric must improve by");
    public static final ConfigKey<String> GUARDS = ConfigKey.optional("spin.gate.guards", ValueType.of(
            "metric:tolerance[,metric:tolerance...], e.g. exact_match:0.01", s -> {
                PromotionGate.parseGuards(s);
                return s;
            }), "exact_match:0.0", "metrics that may not regress by more than their tolerance");
    public static final ConfigKey<Integer> MIN_PROMPTS = ConfigKey.optional("spin.gate.min.prompts",
            ValueType.POSITIVE_INT, "20", "fewest held-out prompts a verdict may rest on");
    public static final ConfigKey<Integer> MAX_PROMPTS = ConfigKey.optional("spin.evaluator.max.prompts",
            ValueType.POSITIVE_INT, "500", "most held-out prompts scored (the first by prompt id)");
    public static final ConfigKey<Integer> MAX_NEW_TOKENS = ConfigKey.optional("spin.evaluator.max.new.tokens",
            ValueType.POSITIVE_INT, "32", "longest greedy answer for exact match and opponent answer for preference");
    public static final ConfigKey<Integer> BATCH_SIZE = ConfigKey.optional("spin.evaluator.batch.size",
            ValueType.POSITIVE_INT, "16", "prompts scored together");

    public static List<ConfigKey<?>> all() {
        List<ConfigKey<?>> all = new ArrayList<>(RoundKeys.all());
        all.addAll(List.of(SUITES_RUN, SUITES_REQUIRED, PRIMARY, MARGIN, GUARDS, MIN_PROMPTS, MAX_PROMPTS,
                MAX_NEW_TOKENS, BATCH_SIZE));
        return all;
    }
}
