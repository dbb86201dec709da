package io.spinstream.demo;

import java.util.List;
import java.util.Map;

/**
 * One round of the demo: the end-of-round candidate, its evaluation against the opponent it was trained
 * from, and what the round cost.
 *
 * @param round        1-based: the n-th evaluated candidate
 * @param opponentRound the opponent's round (it moves on only with a promotion)
 * @param parentId     the opponent the candidate was trained from
 * @param metrics      the candidate's held-out metrics
 * @param baseline     the opponent's, on the same prompts
 * @param seconds      the round's wall time
 * @param modelSeconds the services' model compute in the round (generation with scoring, training steps,
 *                     evaluation), each service's counted once; they can overlap, so the share of wall time
 *                     outside model compute is at least {@link #outsideModelShare()}
 */
public record RoundResult(int round, int opponentRound, String candidateId, String parentId, String opponentId, String verdict,
                          Map<String, Double> metrics, Map<String, Double> baseline, Map<String, Double> trainMetrics,
                          List<String> reasons, double seconds, double modelSeconds, Map<String, double[]> intervals) {

    /** 1 − model compute / wall time, at least 0: the share of the round spent on anything but the model (Kafka, serdes, waiting). */
    public double outsideModelShare() {
        return seconds <= 0 ? Double.NaN : Math.max(0, 1 - modelSeconds / seconds);
    }

    /** The 95% interval of the paired improvement of {@code name} over the opponent, [low, high]; null if not tested. */
    public double[] interval(String name) {
        return intervals.get(name);
    }

    public boolean promoted() {
        return verdict.equals("PROMOTE");
    }

    public double metric(String name) {
        return metrics.getOrDefault(name, Double.NaN);
    }

    public double baseline(String name) {
        return baseline.getOrDefault(name, Double.NaN);
    }

    public double train(String name) {
        return trainMetrics.getOrDefault(name, Double.NaN);
    }
}
