package io.spinstream.evaluator;

import io.spinstream.evaluator.gate.PromotionGate;
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
    public static final ConfigKey<Double> MARGIN = ConfigKey.optional("spin.gate.margin", ValueType.NUMBER, "0",
            "how much the primary metric's improvement must be at least, beside being significant");
    public static final ConfigKey<Double> CONFIDENCE = ConfigKey.optional("spin.gate.confidence", ValueType.of(
            "a number above 0.5 and below 1", s -> {
                double v = Double.parseDouble(s);
                if (!(v > 0.5 && v < 1)) {
                    throw new IllegalArgumentException(s);
                }
                return v;
            }), "0.95", "one-sided confidence of the gate's paired tests (the primary better, a guard worse)");
    public static final ConfigKey<Double> MIN_EFFECT = ConfigKey.optional("spin.gate.min.effect", ValueType.of(
            "a number above 0", s -> {
                double v = Double.parseDouble(s);
                if (!(v > 0) || Double.isInfinite(v)) {
                    throw new IllegalArgumentException(s);
                }
                return v;
            }), "0.01", "smallest improvement worth detecting: reasons say how many prompts it needs");
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
        all.addAll(List.of(SUITES_RUN, SUITES_REQUIRED, PRIMARY, MARGIN, CONFIDENCE, MIN_EFFECT, GUARDS, MIN_PROMPTS, MAX_PROMPTS,
                MAX_NEW_TOKENS, BATCH_SIZE, io.spinstream.runtime.config.InitKeys.READ_STORE));
        return all;
    }
}
