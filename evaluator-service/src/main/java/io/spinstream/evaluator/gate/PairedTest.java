package io.spinstream.evaluator.gate;

import io.spinstream.evaluator.suite.Metric;
import io.spinstream.schemas.MetricTest;
import org.apache.commons.statistics.distribution.NormalDistribution;
import org.apache.commons.statistics.distribution.TDistribution;
import org.apache.commons.statistics.inference.AlternativeHypothesis;
import org.apache.commons.statistics.inference.BinomialTest;
import org.apache.commons.statistics.inference.TTest;

import java.util.Arrays;
import java.util.Locale;

/**
 * One metric of a candidate against the opponent on the same prompts, as a paired test of the per-prompt
 * improvement (positive: the candidate is better). 0/1 outcomes (exact match) are compared by an exact
 * McNemar test on the discordant prompts (a sign test, via a binomial test); other metrics by a paired
 * t-test. The interval is two-sided at the confidence level; the p-value is the one-sided one of the
 * question asked (is it better; is it worse beyond a tolerance). Distributions and tests come from
 * Apache Commons Statistics.
 *
 * @param discordant McNemar: prompts where exactly one of the two is right, as a share of n
 * @param sd         paired t: standard deviation of the per-prompt improvements
 */
public record PairedTest(String metric, int n, double candidate, double baseline, double improvement, double ciLow,
                         double ciHigh, double pValue, String method, double discordant, double sd) {
    private static final NormalDistribution STANDARD = NormalDistribution.of(0, 1);

    /** H1: the candidate is better (mean improvement above 0). */
    public static PairedTest better(Metric m, double[] candidate, double[] baseline, double confidence) {
        return test(m, candidate, baseline, 0, AlternativeHypothesis.GREATER_THAN, confidence);
    }

    /** H1: the candidate is worse by more than {@code tolerance} (mean improvement below −tolerance). */
    public static PairedTest worseBeyond(Metric m, double[] candidate, double[] baseline, double tolerance, double confidence) {
        return test(m, candidate, baseline, -tolerance, AlternativeHypothesis.LESS_THAN, confidence);
    }

    private static PairedTest test(Metric m, double[] candidate, double[] baseline, double mu, AlternativeHypothesis h1,
                                   double confidence) {
        if (candidate.length != baseline.length) {
            throw new IllegalArgumentException(m.name() + ": " + candidate.length + " candidate values for "
                    + baseline.length + " baseline values; the prompts must be the same");
        }
        int n = candidate.length;
        double[] d = new double[n];
        for (int i = 0; i < n; i++) {
            d[i] = m.improvement(candidate[i], baseline[i]);
        }
        double c = mean(candidate);
        double b = mean(baseline);
        double mean = mean(d);
        if (n == 0) {
            return new PairedTest(m.name(), 0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, 1.0, "none", 0, 0);
        }
        if (binary(candidate) && binary(baseline) && mu == 0) {
            int better = (int) Arrays.stream(d).filter(x -> x > 0).count();
            int worse = (int) Arrays.stream(d).filter(x -> x < 0).count();
            int discordant = better + worse;
            double p = discordant == 0 ? 1.0 : BinomialTest.withDefaults().with(h1).test(discordant, better, 0.5).getPValue();
            double z = STANDARD.inverseSurvivalProbability((1 - confidence) / 2);
            double se = Math.sqrt(Math.max(0, discordant - (double) (better - worse) * (better - worse) / n)) / n;
            return new PairedTest(m.name(), n, c, b, mean, mean - z * se, mean + z * se, p, "mcnemar-exact",
                    (double) discordant / n, 0);
        }
        double sd = n < 2 ? 0 : Math.sqrt(Arrays.stream(d).map(x -> (x - mean) * (x - mean)).sum() / (n - 1));
        if (sd == 0) { // every prompt moved alike: no spread to test against
            boolean holds = h1 == AlternativeHypothesis.GREATER_THAN ? mean > mu : mean < mu;
            return new PairedTest(m.name(), n, c, b, mean, mean, mean, holds ? 0.0 : 1.0, "paired-t", 0, 0);
        }
        double p = TTest.withDefaults().with(h1).withMu(mu).test(d).getPValue();
        double t = TDistribution.of(n - 1).inverseSurvivalProbability((1 - confidence) / 2);
        double half = t * sd / Math.sqrt(n);
        return new PairedTest(m.name(), n, c, b, mean, mean - half, mean + half, p, "paired-t", 0, sd);
    }

    public boolean significant(double confidence) {
        return pValue < 1 - confidence;
    }

    /**
     * The smallest improvement this many prompts detect at {@code confidence} with {@code power} (normal
     * approximation of the test used; NaN when the data give no spread to size it by).
     */
    public double minimumDetectable(double confidence, double power) {
        double z = STANDARD.inverseSurvivalProbability(1 - confidence) + STANDARD.inverseCumulativeProbability(power);
        double spread = method.equals("mcnemar-exact") ? Math.sqrt(discordant) : sd;
        return n == 0 || spread == 0 ? Double.NaN : z * spread / Math.sqrt(n);
    }

    /** Prompts needed to detect {@code effect} at {@code confidence} with {@code power}, at this data's spread. */
    public long promptsFor(double effect, double confidence, double power) {
        double z = STANDARD.inverseSurvivalProbability(1 - confidence) + STANDARD.inverseCumulativeProbability(power);
        double variance = method.equals("mcnemar-exact") ? discordant : sd * sd;
        return variance == 0 ? 0 : (long) Math.ceil(z * z * variance / (effect * effect));
    }

    /** e.g. {@code exact_match +0.0120 [-0.0020, +0.0260], p = 0.090 (mcnemar-exact, n = 781)}. */
    public String describe() {
        return String.format(Locale.ROOT, "%s %+.4f [%+.4f, %+.4f], p = %.3g (%s, n = %d)", metric, improvement, ciLow, ciHigh,
                pValue, method, n);
    }

    public MetricTest toRecord() {
        return MetricTest.newBuilder().setN(n).setCandidate(candidate).setBaseline(baseline).setImprovement(improvement)
                .setCiLow(ciLow).setCiHigh(ciHigh).setPValue(pValue).setMethod(method).build();
    }

    private static boolean binary(double[] v) {
        return Arrays.stream(v).allMatch(x -> x == 0 || x == 1);
    }

    private static double mean(double[] v) {
        return v.length == 0 ? Double.NaN : Arrays.stream(v).sum() / v.length;
    }
}
