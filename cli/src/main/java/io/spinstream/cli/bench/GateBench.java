package io.spinstream.cli.bench;

import io.spinstream.demo.Ablation;
import io.spinstream.evaluator.gate.PairedTest;
import io.spinstream.evaluator.gate.PromotionGate;
import io.spinstream.evaluator.suite.Metric;
import io.spinstream.evaluator.suite.Suite;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code spin bench gate}: candidates and their opponents from ablation rounds, replayed through the gate
 * as it was before paired tests (the means alone: the primary up by the margin, each guard down by no more
 * than its tolerance) and through today's statistical gate, both judged against the test split that
 * neither read: a false promotion is a promoted candidate that is worse there (its paired improvement
 * below 0); a missed improvement is a refused one that is better there beyond its 95% interval.
 */
public final class GateBench {

    /** The gate before paired tests: estimates compared, no account of noise. */
    public record MarginGate(Metric primary, double margin, Map<Metric, Double> guards) {
        public boolean promotes(Map<String, double[]> candidate, Map<String, double[]> opponent) {
            double[] c = candidate.get(primary.name());
            double[] b = opponent.get(primary.name());
            if (c == null || b == null) {
                return false;
            }
            double gain = primary.improvement(Suite.mean(c), Suite.mean(b));
            boolean ok = gain >= margin && gain > 0;
            for (Map.Entry<Metric, Double> g : guards.entrySet()) {
                double[] gc = candidate.get(g.getKey().name());
                double[] gb = opponent.get(g.getKey().name());
                if (gc != null && gb != null) {
                    ok &= -g.getKey().improvement(Suite.mean(gc), Suite.mean(gb)) <= g.getValue();
                }
            }
            return ok;
        }
    }

    /** Counts per gate: promoted, of them worse on the test split; refused, of them better beyond the interval. */
    public record Tally(int promoted, int falsePromotions, int refused, int missed) {
        double falseRate() {
            return promoted == 0 ? 0 : (double) falsePromotions / promoted;
        }

        double missedRate() {
            return refused == 0 ? 0 : (double) missed / refused;
        }
    }

    public record Outcome(int pairs, int worseOnTest, int betterOnTest, Tally margin, Tally statistical) {
        public String table() {
            StringBuilder sb = new StringBuilder();
            sb.append("| gate | promoted | false promotions (worse on test) | refused | missed (better on test beyond its CI) |\n");
            sb.append("|---|---|---|---|---|\n");
            row(sb, "margin (means only)", margin);
            row(sb, "paired tests", statistical);
            sb.append(String.format(Locale.ROOT, "%n%d candidate/opponent pairs; on the test split %d were worse, %d better beyond"
                    + " their 95%% interval%n", pairs, worseOnTest, betterOnTest));
            return sb.toString();
        }

        private static void row(StringBuilder sb, String name, Tally t) {
            sb.append(String.format(Locale.ROOT, "| %s | %d | %d (%.2f) | %d | %d (%.2f) |%n", name, t.promoted(), t.falsePromotions(),
                    t.falseRate(), t.refused(), t.missed(), t.missedRate()));
        }

        public String lastLine() {
            return String.format(Locale.ROOT, "margin_false_promotions=%.3f stat_false_promotions=%.3f margin_missed=%.3f"
                    + " stat_missed=%.3f pairs=%d", margin.falseRate(), statistical.falseRate(), margin.missedRate(),
                    statistical.missedRate(), pairs);
        }
    }

    private GateBench() {
    }

    public static Outcome replay(List<Ablation.Judged> judged, MarginGate margin, PromotionGate statistical, int prompts) {
        int[] m = new int[4];
        int[] s = new int[4];
        int worse = 0;
        int better = 0;
        for (Ablation.Judged j : judged) {
            PairedTest truth = PairedTest.better(Metric.EXACT_MATCH, j.testCandidate(), j.testOpponent(), 0.95);
            boolean isWorse = truth.improvement() < 0;
            boolean isBetter = truth.ciLow() > 0;
            worse += isWorse ? 1 : 0;
            better += isBetter ? 1 : 0;
            count(m, margin.promotes(j.candidate(), j.opponent()), isWorse, isBetter);
            count(s, statistical.judge(j.candidate(), j.opponent(), prompts).promote(), isWorse, isBetter);
        }
        return new Outcome(judged.size(), worse, better, new Tally(m[0], m[1], m[2], m[3]), new Tally(s[0], s[1], s[2], s[3]));
    }

    private static void count(int[] t, boolean promoted, boolean worse, boolean better) {
        if (promoted) {
            t[0]++;
            t[1] += worse ? 1 : 0;
        } else {
            t[2]++;
            t[3] += better ? 1 : 0;
        }
    }
}
