package io.spinstream.model.objective;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.spinstream.model.SequenceLogProbs;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Every loss against a hand computation in plain Java on small tensors. */
class ObjectivesTest {
    private static NDManager manager;
    // Two pairs: policy and reference log-probs of y (chosen) and y' (rejected), response lengths.
    private static final double[] C = {-3.0, -5.0};
    private static final double[] R = {-4.0, -2.0};
    private static final double[] RC = {-3.5, -4.0};
    private static final double[] RR = {-3.0, -2.5};
    private static final double[] LEN_C = {3, 5};
    private static final double[] LEN_R = {2, 4};

    @BeforeAll
    static void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    private static NDArray a(double... v) {
        return manager.create(v).toType(DataType.FLOAT64, false);
    }

    private static PairLogProbs pairs(double... identical) {
        double[] meanC = {C[0] / LEN_C[0], C[1] / LEN_C[1]};
        double[] meanR = {R[0] / LEN_R[0], R[1] / LEN_R[1]};
        return new PairLogProbs(new SequenceLogProbs(a(C), a(meanC), a(LEN_C)),
                new SequenceLogProbs(a(R), a(meanR), a(LEN_R)), a(RC), a(RR), a(identical));
    }

    private static double logistic(double t) {
        return Math.log(1 + Math.exp(-t));
    }

    private static double nll() {
        return -(C[0] / LEN_C[0] + C[1] / LEN_C[1]) / 2;
    }

    @Test
    void spinLogisticAndHingeMatchAHandComputation() {
        double lambda = 0.5;
        double t0 = lambda * ((C[0] - RC[0]) - (R[0] - RR[0]));
        double t1 = lambda * ((C[1] - RC[1]) - (R[1] - RR[1]));
        double logistic = (logistic(t0) + logistic(t1)) / 2;
        double hinge = (Math.max(0, 1 - t0) + Math.max(0, 1 - t1)) / 2;

        assertThat(new Spin(lambda, Spin.Loss.LOGISTIC, 0).loss(pairs(0, 0)).lossValue()).isCloseTo(logistic, within(1e-12));
        assertThat(new Spin(lambda, Spin.Loss.HINGE, 0).loss(pairs(0, 0)).lossValue()).isCloseTo(hinge, within(1e-12));
        assertThat(new Spin(lambda, Spin.Loss.LOGISTIC, 2).loss(pairs(0, 0)).lossValue())
                .isCloseTo(logistic + 2 * nll(), within(1e-12));
        LossResult r = new Spin(lambda, Spin.Loss.LOGISTIC, 0).loss(pairs(0, 0));
        assertThat(r.meanMargin()).isCloseTo((t0 + t1) / 2, within(1e-12));
        assertThat(r.rewardAccuracy()).isCloseTo(((t0 > 0 ? 1 : 0) + (t1 > 0 ? 1 : 0)) / 2.0, within(1e-12));
    }

    @Test
    void anIdenticalPairContributesLn2AndNothingElse() {
        double lambda = 0.5;
        double t1 = lambda * ((C[1] - RC[1]) - (R[1] - RR[1]));
        double expected = (Math.log(2) + logistic(t1)) / 2;
        assertThat(new Spin(lambda, Spin.Loss.LOGISTIC, 0).loss(pairs(1, 0)).lossValue()).isCloseTo(expected, within(1e-12));
    }

    @Test
    void dpoAndSimpoMatchAHandComputation() {
        double beta = 0.2;
        double t0 = beta * ((C[0] - RC[0]) - (R[0] - RR[0]));
        double t1 = beta * ((C[1] - RC[1]) - (R[1] - RR[1]));
        assertThat(new Dpo(beta, 0.5).loss(pairs(0, 0)).lossValue())
                .isCloseTo((logistic(t0) + logistic(t1)) / 2 + 0.5 * nll(), within(1e-12));

        double b = 2.0;
        double gamma = 0.6;
        double s0 = b * C[0] / LEN_C[0] - b * R[0] / LEN_R[0] - gamma;
        double s1 = b * C[1] / LEN_C[1] - b * R[1] / LEN_R[1] - gamma;
        assertThat(new SimPo(b, gamma, 0).loss(pairs(0, 0)).lossValue())
                .isCloseTo((logistic(s0) + logistic(s1)) / 2, within(1e-12));
        assertThat(new Sft().loss(pairs(0, 0)).lossValue()).isCloseTo(nll(), within(1e-12));
    }

    @Test
    void theLogisticIsStableForLargeMargins() {
        NDArray t = a(-800, 800, 0);
        double[] v = Objectives.logistic(t).toDoubleArray();
        assertThat(v[0]).isCloseTo(800, within(1e-9));
        assertThat(v[1]).isCloseTo(0, within(1e-12));
        assertThat(v[2]).isCloseTo(Math.log(2), within(1e-15));
    }

    @Test
    void specsParseAndBadOnesSayWhy() {
        assertThat(Objective.parse("spin:lambda=1,alpha=1")).isEqualTo(new Spin(1, Spin.Loss.LOGISTIC, 1));
        assertThat(Objective.parse("spin-hinge:lambda=0.1")).isEqualTo(new Spin(0.1, Spin.Loss.HINGE, 0));
        assertThat(Objective.parse("simpo:beta=2,gamma=1")).isEqualTo(new SimPo(2, 1, 0));
        assertThat(Objective.parse("sft")).isEqualTo(new Sft());
        assertThatThrownBy(() -> Objective.parse("ppo")).hasMessageContaining("expected one of sft, spin, spin-hinge, dpo, simpo");
        assertThatThrownBy(() -> Objective.parse("spin:lamda=1")).hasMessageContaining("unknown parameter(s) [lamda]");
        assertThatThrownBy(() -> Objective.parse("spin:lambda=x")).hasMessageContaining("lambda must be a number");
        assertThatThrownBy(() -> Objective.parse("spin:lambda=0")).hasMessageContaining("lambda must be > 0");
    }
}
