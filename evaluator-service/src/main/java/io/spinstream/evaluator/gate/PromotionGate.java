package io.spinstream.evaluator.gate;

import io.spinstream.evaluator.suite.Metric;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Decides promotion by paired tests of the candidate against the opponent on the same held-out prompts:
 * the primary metric must be better at {@code confidence} (one-sided) and by at least {@code margin};
 * no guard may be significantly worse than its tolerance; at least {@code minPrompts} prompts must have
 * been scored. Every metric's test (estimate, improvement, interval, p-value, n) is kept and every
 * reason says it in words, with how small an effect the prompts can detect when a result is not
 * significant.
 *
 * @param minEffect the smallest improvement worth detecting (spin.gate.min.effect): the reason says how
 *                  many prompts that needs when the held-out set is too small for it
 */
public record PromotionGate(Metric primary, double margin, Map<Metric, Double> guards, int minPrompts, double confidence,
                            double minEffect) {
    static final double POWER = 0.8;

    public PromotionGate {
        if (!(confidence > 0.5 && confidence < 1)) {
            throw new IllegalArgumentException("gate confidence must be in (0.5, 1), got " + confidence);
        }
        guards = Map.copyOf(guards);
    }

    public record Decision(boolean promote, List<String> reasons, Map<String, PairedTest> tests) {
    }

    /** Parses guards written as {@code metric:tolerance,metric:tolerance}. */
    public static Map<Metric, Double> parseGuards(String spec) {
        Map<Metric, Double> out = new LinkedHashMap<>();
        if (spec == null || spec.isBlank()) {
            return out;
        }
        for (String part : spec.split(",")) {
            String[] kv = part.trim().split(":");
            if (kv.length != 2) {
                throw new IllegalArgumentException("guard '" + part + "': expected metric:tolerance");
            }
            double tolerance = Double.parseDouble(kv[1].trim());
            if (!(tolerance >= 0) || Double.isInfinite(tolerance)) {
                throw new IllegalArgumentException("guard '" + part + "': the tolerance must be a finite number >= 0");
            }
            out.put(Metric.named(kv[0].trim()), tolerance);
        }
        return out;
    }

    /**
     * @param candidate per metric, the candidate's per-prompt values
     * @param baseline  per metric, the opponent's on the same prompts, in the same order
     * @param prompts   held-out prompts scored
     */
    public Decision judge(Map<String, double[]> candidate, Map<String, double[]> baseline, int prompts) {
        List<String> reasons = new ArrayList<>();
        Map<String, PairedTest> tests = new LinkedHashMap<>();
        boolean ok = true;
        if (prompts < minPrompts) {
            reasons.add("only " + prompts + " held-out prompts scored; at least " + minPrompts + " are needed");
            ok = false;
        }
        double[] c = candidate.get(primary.name());
        double[] b = baseline.get(primary.name());
        if (c == null || b == null) {
            reasons.add("primary metric " + primary.name() + " was not measured (no prompt it applies to)");
            ok = false;
        } else {
            PairedTest t = PairedTest.better(primary, c, b, confidence);
            tests.put(primary.name(), t);
            boolean significant = t.significant(confidence);
            boolean enough = t.improvement() >= margin && t.improvement() > 0;
            String verdict = significant && enough ? "better at " + pct(confidence)
                    : significant ? "significant at " + pct(confidence) + ", but below the margin " + margin
                    : "not significant at " + pct(confidence) + power(t);
            reasons.add(t.describe() + ": " + verdict);
            ok &= significant && enough;
        }
        for (Map.Entry<Metric, Double> g : guards.entrySet()) {
            double[] gc = candidate.get(g.getKey().name());
            double[] gb = baseline.get(g.getKey().name());
            if (gc == null || gb == null) {
                reasons.add("guard " + g.getKey().name() + " not measured; not applied");
                continue;
            }
            PairedTest t = PairedTest.worseBeyond(g.getKey(), gc, gb, g.getValue(), confidence);
            tests.put(g.getKey().name(), t);
            boolean worse = t.significant(confidence);
            reasons.add("guard " + t.describe() + (worse ? ": worse beyond its tolerance " + g.getValue() + " at " + pct(confidence)
                    : ": held (tolerance " + g.getValue() + ")"));
            ok &= !worse;
        }
        for (Map.Entry<String, double[]> e : candidate.entrySet()) {
            if (!tests.containsKey(e.getKey()) && baseline.containsKey(e.getKey())) {
                tests.put(e.getKey(), PairedTest.better(Metric.named(e.getKey()), e.getValue(), baseline.get(e.getKey()), confidence));
            }
        }
        return new Decision(ok, reasons, tests);
    }

    /** What a result that is not significant could and could not have shown. */
    private String power(PairedTest t) {
        double mde = t.minimumDetectable(confidence, POWER);
        if (Double.isNaN(mde)) {
            return " (candidate and opponent do not differ on any prompt)";
        }
        long needed = t.promptsFor(minEffect, confidence, POWER);
        String out = String.format(Locale.ROOT, "; %d prompts detect an improvement of about %.4f (power %.1f)", t.n(), mde, POWER);
        return needed > t.n() ? out + String.format(Locale.ROOT, ", detecting spin.gate.min.effect %.4f needs about %d", minEffect, needed)
                : out;
    }

    private static String pct(double confidence) {
        return String.format(Locale.ROOT, "%.2f", confidence);
    }
}
