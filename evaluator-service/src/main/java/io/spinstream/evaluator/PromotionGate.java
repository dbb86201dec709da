package io.spinstream.evaluator;

import io.spinstream.evaluator.suite.Metric;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Decides promotion: the primary metric must improve on the opponent by at least {@code margin}, no
 * guard metric may regress by more than its tolerance, and at least {@code minPrompts} held-out prompts
 * must have been scored. Every reason is written down, pass or fail.
 */
public record PromotionGate(Metric primary, double margin, Map<Metric, Double> guards, int minPrompts) {

    public record Decision(boolean promote, List<String> reasons) {
    }

    /** Parses guards written as {@code metric:tolerance,metric:tolerance}. */
    public static Map<Metric, Double> parseGuards(String spec) {
        Map<Metric, Double> out = new java.util.LinkedHashMap<>();
        if (spec == null || spec.isBlank()) {
            return out;
        }
        for (String part : spec.split(",")) {
            String[] kv = part.trim().split(":");
            if (kv.length != 2) {
                throw new IllegalArgumentException("guard '" + part + "': expected metric:tolerance");
            }
            out.put(Metric.named(kv[0].trim()), Double.parseDouble(kv[1].trim()));
        }
        return out;
    }

    public Decision judge(Map<String, Double> candidate, Map<String, Double> baseline, int prompts) {
        List<String> reasons = new ArrayList<>();
        boolean ok = true;
        if (prompts < minPrompts) {
            reasons.add("only " + prompts + " held-out prompts scored; at least " + minPrompts + " are needed");
            ok = false;
        }
        Double c = candidate.get(primary.name());
        Double b = baseline.get(primary.name());
        if (c == null || b == null) {
            reasons.add("primary metric " + primary.name() + " was not measured (no prompt it applies to)");
            ok = false;
        } else {
            double gain = primary.improvement(c, b);
            boolean pass = gain >= margin && gain > 0;
            reasons.add(String.format("%s %s: %.4f vs %.4f (improvement %+.4f, needs >= %.4f)", primary.name(),
                    pass ? "improved" : "did not improve enough", c, b, gain, margin));
            ok &= pass;
        }
        for (Map.Entry<Metric, Double> g : guards.entrySet()) {
            Double gc = candidate.get(g.getKey().name());
            Double gb = baseline.get(g.getKey().name());
            if (gc == null || gb == null) {
                reasons.add("guard " + g.getKey().name() + " not measured; not applied");
                continue;
            }
            double regression = 0.0 - g.getKey().improvement(gc, gb) + 0.0; // + 0.0: no "-0.0000" in reasons
            boolean pass = regression <= g.getValue();
            reasons.add(String.format("guard %s %s: %.4f vs %.4f (regression %+.4f, tolerance %.4f)", g.getKey().name(),
                    pass ? "held" : "regressed", gc, gb, regression, g.getValue()));
            ok &= pass;
        }
        return new Decision(ok, reasons);
    }
}
