package io.spinstream.model.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.engine.Engine;
import ai.djl.training.GradientCollector;
import io.spinstream.model.Differentiable;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.LogProbs;
import io.spinstream.model.TokenBatch;
import io.spinstream.model.objective.Objective;
import io.spinstream.model.objective.Sft;
import io.spinstream.model.objective.Spin;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static io.spinstream.model.testing.FiniteDifferences.lossWith;
import static org.assertj.core.api.Assertions.within;

class TrainStepTest {
    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    private static TokenBatch.Example ex(int[] prompt, int... response) {
        return new TokenBatch.Example(prompt, response);
    }

    private static final int[] P1 = {5, 6, 7};
    private static final int[] P2 = {8, 9};

    /** Pairs whose reference log-probs are the model's own: θ = θt. */
    private PreferenceBatch selfPlay(LlamaModel model, List<TokenBatch.Example> chosen, List<TokenBatch.Example> rejected) {
        double[] refC = LogProbs.sums(model, manager, TokenBatch.of(chosen, 0));
        double[] refR = LogProbs.sums(model, manager, TokenBatch.of(rejected, 0));
        return new PreferenceBatch(chosen, rejected, refC, refR);
    }

    private LlamaModel tiny(DataType type) {
        return LlamaModel.random(LlamaConfig.tiny(16, 16, 2, 4, 2, 32), manager, 3, type);
    }

    @Test
    void atTheOpponentTheSpinLossIsLn2() {
        try (LlamaModel model = tiny(DataType.FLOAT32)) {
            PreferenceBatch batch = selfPlay(model, List.of(ex(P1, 10, 11, 2), ex(P2, 12, 2)),
                    List.of(ex(P1, 13, 2), ex(P2, 12, 14, 15, 2)));
            for (Objective o : List.of(new Spin(0.1, Spin.Loss.LOGISTIC, 0), new Spin(5.0, Spin.Loss.LOGISTIC, 0))) {
                TrainStep step = new TrainStep(model, o, new AdamW(0.9, 0.999, 1e-8, 0), LearningRateSchedule.constant(1e-3), 1);
                assertThat(step.loss(List.of(batch))).isCloseTo(Math.log(2), within(1e-6));
            }
        }
    }

    @Test
    void aPairWithIdenticalResponsesContributesNoGradient() {
        try (LlamaModel model = tiny(DataType.FLOAT32)) {
            TrainStep step = new TrainStep(model, new Spin(1.0, Spin.Loss.LOGISTIC, 0), new AdamW(0.9, 0.999, 1e-8, 0),
                    LearningRateSchedule.constant(1e-3), 0);
            // Reference log-probs away from the policy's, so the loss's slope is not zero by accident.
            PreferenceBatch identical = new PreferenceBatch(List.of(ex(P1, 10, 11, 2)), List.of(ex(P1, 10, 11, 2)),
                    new double[]{-1}, new double[]{-9});
            Map<String, double[]> grads = new HashMap<>();
            step.gradients(List.of(identical), grads);
            assertThat(grads).isNotEmpty();
            assertThat(maxAbs(grads)).isZero();

            PreferenceBatch different = new PreferenceBatch(List.of(ex(P1, 10, 11, 2)), List.of(ex(P1, 12, 2)),
                    new double[]{-1}, new double[]{-9});
            step.gradients(List.of(different), grads);
            assertThat(maxAbs(grads)).isGreaterThan(1e-6);
        }
    }

    private static double maxAbs(Map<String, double[]> grads) {
        double max = 0;
        for (double[] g : grads.values()) {
            for (double v : g) {
                max = Math.max(max, Math.abs(v));
            }
        }
        return max;
    }

    /** The cast that keeps the graph: the gradient reaches a float32 leaf through float16 and back. */
    @Test
    void aDifferentiableCastPassesTheGradientBothWays() {
        try (NDManager scope = manager.newSubManager()) {
            NDArray x = scope.create(new float[]{0.5f, -1.25f, 2f});
            x.setRequiresGradient(true);
            try (GradientCollector c = Engine.getInstance().newGradientCollector()) {
                NDArray half = Differentiable.cast(x.mul(3), DataType.FLOAT16);
                assertThat(half.getDataType()).isEqualTo(DataType.FLOAT16);
                NDArray back = Differentiable.cast(half.square(), DataType.FLOAT32);
                assertThat(back.getDataType()).isEqualTo(DataType.FLOAT32);
                c.backward(back.sum());
            }
            // d/dx (3x)^2 = 18x
            assertThat(x.getGradient().toFloatArray()).containsExactly(9f, -22.5f, 36f);
        }
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        // float64, GQA, q/k/v bias and tied embeddings: every part of the architecture is on the path.
        LlamaConfig config = LlamaConfig.tiny(12, 16, 2, 4, 2, 16).withArchitecture("Qwen2ForCausalLM", true)
                .withTiedEmbeddings(true);
        try (LlamaModel model = LlamaModel.random(config, manager, 11, DataType.FLOAT64)) {
            model.parameters().forEach((n, p) -> {
                if (n.endsWith(".bias")) {
                    p.addi(0.05); // non-zero biases, so their gradient path is not trivial
                }
            });
            PreferenceBatch batch = new PreferenceBatch(List.of(ex(new int[]{3, 4}, 5, 6, 2), ex(new int[]{7}, 8, 2)),
                    List.of(ex(new int[]{3, 4}, 9, 2), ex(new int[]{7}, 8, 10, 2)), new double[]{-6, -5}, new double[]{-4, -7});
            TrainStep step = new TrainStep(model, new Spin(1.0, Spin.Loss.LOGISTIC, 0.5), new AdamW(0.9, 0.999, 1e-8, 0),
                    LearningRateSchedule.constant(1e-3), 0);
            Map<String, double[]> analytic = new HashMap<>();
            step.gradients(List.of(batch), analytic);

            Random random = new Random(5);
            List<String> names = new ArrayList<>(model.parameters().keySet());
            double h = 1e-6;
            int checked = 0;
            for (String name : names) {
                NDArray p = model.parameters().get(name);
                for (int trial = 0; trial < 2; trial++) {
                    int i = random.nextInt((int) p.size());
                    double g = analytic.get(name)[i];
                    double numeric = (lossWith(() -> step.loss(List.of(batch)), p, i, h)
                        - lossWith(() -> step.loss(List.of(batch)), p, i, -h)) / (2 * h);
                    assertThat(g).as("%s[%d]", name, i).isCloseTo(numeric, within(1e-6 + 1e-4 * Math.abs(numeric)));
                    checked++;
                }
            }
            assertThat(checked).isEqualTo(2 * names.size());
        }
    }


    @Test
    void aNanLossSkipsTheStepAndLeavesTheWeights() {
        try (LlamaModel model = tiny(DataType.FLOAT32)) {
            TrainStep step = new TrainStep(model, new Spin(1.0, Spin.Loss.LOGISTIC, 0), new AdamW(0.9, 0.999, 1e-8, 0),
                    LearningRateSchedule.constant(1e-2), 1);
            float[] before = model.parameters().get("lm_head.weight").toFloatArray();
            StepResult r = step.step(List.of(new PreferenceBatch(List.of(ex(P1, 10, 2)), List.of(ex(P1, 11, 2)),
                    new double[]{Double.NaN}, new double[]{-3})));
            assertThat(r.skipped()).isTrue();
            assertThat(step.skippedSteps()).isEqualTo(1);
            assertThat(model.parameters().get("lm_head.weight").toFloatArray()).containsExactly(before);

            StepResult ok = step.step(List.of(new PreferenceBatch(List.of(ex(P1, 10, 2)), List.of(ex(P1, 11, 2)),
                    new double[]{-3}, new double[]{-3})));
            assertThat(ok.skipped()).isFalse();
            assertThat(model.parameters().get("lm_head.weight").toFloatArray()).isNotEqualTo(before);
        }
    }

    @Test
    void accumulatingMicroBatchesEqualsOneBigBatch() {
        List<TokenBatch.Example> a = List.of(ex(P1, 10, 11, 2), ex(P2, 12, 2));
        List<TokenBatch.Example> b = List.of(ex(P2, 13, 14, 2));
        List<TokenBatch.Example> all = new ArrayList<>(a);
        all.addAll(b);
        float[] split;
        float[] whole;
        try (LlamaModel model = tiny(DataType.FLOAT32);
             TrainStep step = new TrainStep(model, new Sft(), new RmsProp(0.99, 1e-8, 0), LearningRateSchedule.constant(1e-2), 0)) {
            step.step(List.of(PreferenceBatch.sft(a), PreferenceBatch.sft(b)));
            split = model.parameters().get("model.layers.0.mlp.up_proj.weight").toFloatArray();
        }
        try (LlamaModel model = tiny(DataType.FLOAT32);
             TrainStep step = new TrainStep(model, new Sft(), new RmsProp(0.99, 1e-8, 0), LearningRateSchedule.constant(1e-2), 0)) {
            step.step(List.of(PreferenceBatch.sft(all)));
            whole = model.parameters().get("model.layers.0.mlp.up_proj.weight").toFloatArray();
        }
        for (int i = 0; i < split.length; i++) {
            assertThat(split[i]).isCloseTo(whole[i], within(2e-5f));
        }
    }

    @Test
    void clippingScalesTheGradientToTheGlobalNorm() {
        try (LlamaModel model = tiny(DataType.FLOAT64)) {
            PreferenceBatch batch = PreferenceBatch.sft(List.of(ex(P1, 10, 11, 2)));
            // eps 1 makes Adam's first update depend on the gradient's size: lr * g / (|g| + 1).
            TrainStep step = new TrainStep(model, new Sft(), new AdamW(0.9, 0.999, 1.0, 0), LearningRateSchedule.constant(0.1), 0.01);
            Map<String, double[]> g = new HashMap<>();
            step.gradients(List.of(batch), g);
            double norm = Math.sqrt(g.values().stream().flatMapToDouble(java.util.Arrays::stream).map(v -> v * v).sum());
            assertThat(norm).isGreaterThan(0.01);
            String name = "lm_head.weight";
            double[] before = model.parameters().get(name).toDoubleArray();
            StepResult r = step.step(List.of(batch));
            assertThat(r.gradNorm()).isCloseTo(norm, within(1e-9));
            double[] after = model.parameters().get(name).toDoubleArray();
            int i = argMaxAbs(g.get(name));
            double clipped = g.get(name)[i] * 0.01 / (norm + 1e-6);
            assertThat(before[i] - after[i]).isCloseTo(0.1 * clipped / (Math.abs(clipped) + 1.0), within(1e-9));
        }
    }

    private static int argMaxAbs(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (Math.abs(v[i]) > Math.abs(v[best])) {
                best = i;
            }
        }
        return best;
    }

    @Test
    void sftOnAFewExamplesLearnsThemWithEitherOptimizer() {
        for (String optimizer : List.of("adamw", "rmsprop")) {
            try (LlamaModel model = tiny(DataType.FLOAT32);
                 TrainStep step = new TrainStep(model, new Sft(), Optimizer.parse(optimizer, 0.0),
                         new LearningRateSchedule(2e-2, 5, 60, 0.1), 1.0)) {
                PreferenceBatch batch = PreferenceBatch.sft(List.of(ex(P1, 10, 11, 2), ex(P2, 12, 13, 2)));
                double first = step.loss(List.of(batch));
                for (int i = 0; i < 60; i++) {
                    step.step(List.of(batch));
                }
                assertThat(step.loss(List.of(batch))).as(optimizer).isLessThan(first * 0.3);
            }
        }
    }

    @Test
    void theScheduleWarmsUpThenDecays() {
        LearningRateSchedule s = new LearningRateSchedule(1.0, 4, 14, 0.0);
        assertThat(s.at(0)).isCloseTo(0.2, within(1e-12));
        assertThat(s.at(3)).isCloseTo(0.8, within(1e-12));
        assertThat(s.at(4)).isCloseTo(1.0, within(1e-12));
        assertThat(s.at(9)).isCloseTo(0.5, within(1e-12));
        assertThat(s.at(14)).isCloseTo(0.0, within(1e-12));
        assertThat(s.at(100)).isCloseTo(0.0, within(1e-12));
        assertThat(LearningRateSchedule.constant(0.3).at(1000)).isEqualTo(0.3);
    }
}
