package io.spinstream.model.objective;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.SequenceLogProbs;
import io.spinstream.model.TokenBatch;
import io.spinstream.model.train.AdamW;
import io.spinstream.model.train.GroupBatch;
import io.spinstream.model.train.LearningRateSchedule;
import io.spinstream.model.train.TrainStep;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static io.spinstream.model.testing.FiniteDifferences.lossWith;
import static org.assertj.core.api.Assertions.within;

/** RAFT and RRHF against hand computations, their selection, and their gradients through the model. */
class GroupObjectivesTest {
    private static NDManager manager;

    @BeforeAll
    static void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    private static GroupLogProbs group(double[] means, double[] rewards, int... starts) {
        double[] lengths = new double[means.length];
        java.util.Arrays.fill(lengths, 2);
        double[] sums = new double[means.length];
        for (int i = 0; i < means.length; i++) {
            sums[i] = 2 * means[i];
        }
        return new GroupLogProbs(new SequenceLogProbs(manager.create(sums), manager.create(means), manager.create(lengths)),
                rewards, starts);
    }

    @Test
    void rrhfMatchesAHandComputation() {
        // Group 1: rewards 1, 3, 2 and p = -1, -2, -0.5. Pairs with r_i < r_j: (0,1) max(0, -1+2) = 1;
        // (0,2) max(0, -1+0.5) = 0; (2,1) max(0, -0.5+2) = 1.5. Best is 1: NLL 2. Group loss 1 + 1.5 + 2 = 4.5.
        // Group 2: rewards 0, 0 (no strict pair), best the first: NLL 1. Mean over groups: 2.75.
        GroupLogProbs p = group(new double[]{-1, -2, -0.5, -1, -3}, new double[]{1, 3, 2, 0, 0}, 0, 3, 5);
        LossResult r = new Rrhf(1.0).loss(p);
        assertThat(r.lossValue()).isCloseTo(2.75, within(1e-9));
        assertThat(new Rrhf(0.5).loss(p).lossValue()).isCloseTo((2.5 + 1.0 + 0.5 * 1) / 2, within(1e-9));
        // Best- vs worst-rewarded: group 1 p(best) -2 < p(worst) -1; group 2 (equal rewards) -1 vs -3.
        assertThat(r.rewardAccuracy()).isEqualTo(0.5);
        assertThat(r.meanMargin()).isCloseTo(((-2 - -1) + (-1 - -3)) / 2.0, within(1e-9));
        assertThat(new Rrhf(1).needed(new double[]{1, 3, 2}, new int[]{0, 3})).containsExactly(0, 1, 2);
    }

    @Test
    void rrhfAgreesWithAPlainJavaVersionOnRandomGroups() {
        Random random = new Random(4);
        for (int trial = 0; trial < 20; trial++) {
            int groups = 1 + random.nextInt(3);
            List<Integer> starts = new ArrayList<>(List.of(0));
            for (int g = 0; g < groups; g++) {
                starts.add(starts.get(starts.size() - 1) + 1 + random.nextInt(4));
            }
            int n = starts.get(starts.size() - 1);
            double[] means = random.doubles(n, -4, 0).toArray();
            double[] rewards = random.ints(n, 0, 3).asDoubleStream().toArray(); // ties on purpose
            double alpha = random.nextDouble();
            double expected = 0;
            for (int g = 0; g < groups; g++) {
                int from = starts.get(g);
                int to = starts.get(g + 1);
                int best = from;
                for (int i = from; i < to; i++) {
                    if (rewards[i] > rewards[best]) {
                        best = i;
                    }
                }
                double loss = -means[best] * alpha;
                for (int i = from; i < to; i++) {
                    for (int j = from; j < to; j++) {
                        loss += rewards[i] < rewards[j] ? Math.max(0, means[i] - means[j]) : 0;
                    }
                }
                expected += loss / groups;
            }
            int[] s = starts.stream().mapToInt(Integer::intValue).toArray();
            assertThat(new Rrhf(alpha).loss(group(means, rewards, s)).lossValue()).isCloseTo(expected, within(1e-9));
        }
    }

    @Test
    void raftKeepsTheBestTopAtOrAboveTheMinimumAndFineTunesOnThem() {
        double[] rewards = {0.2, 0.9, 0.5, 0.1, 0.05};
        int[] starts = {0, 3, 5};
        assertThat(new Raft(1, 0.3).needed(rewards, starts)).containsExactly(1);
        assertThat(new Raft(2, 0.3).needed(rewards, starts)).containsExactly(1, 2);
        assertThat(new Raft(2, Double.NEGATIVE_INFINITY).needed(rewards, starts)).containsExactly(1, 2, 3, 4);
        assertThat(new Raft(1, 1.0).needed(rewards, starts)).isEmpty();
        assertThat(new Raft(1, 0).needed(new double[]{1, 1, 0}, new int[]{0, 3})).as("a tie: the first sample").containsExactly(0);
        // The kept ones: SFT, the mean of their per-token NLLs.
        LossResult r = new Raft(2, 0.3).loss(group(new double[]{-1.5, -0.5}, new double[]{0.9, 0.5}, 0, 2));
        assertThat(r.lossValue()).isCloseTo(1.0, within(1e-9));
    }

    @Test
    void specsParseAndBadOnesSayWhy() {
        assertThat(GroupObjective.parse("raft")).isEqualTo(new Raft(1, Double.NEGATIVE_INFINITY));
        assertThat(GroupObjective.parse("raft:top=2,min.reward=0.5")).isEqualTo(new Raft(2, 0.5));
        assertThat(GroupObjective.parse("rrhf")).isEqualTo(new Rrhf(1.0));
        assertThat(GroupObjective.parse("rrhf:alpha=0.1")).isEqualTo(new Rrhf(0.1));
        assertThatThrownBy(() -> GroupObjective.parse("raft:top=1.5")).hasMessageContaining("whole number");
        assertThatThrownBy(() -> GroupObjective.parse("raft:beta=1")).hasMessageContaining("unknown parameter(s) [beta]");
        assertThatThrownBy(() -> GroupObjective.parse("spin")).hasMessageContaining("expected one of [raft, rrhf]");
        assertThatThrownBy(() -> group(new double[]{-1}, new double[]{Double.NaN}, 0, 1)).hasMessageContaining("finite");
    }

    @Test
    void aSelectionRenumbersTheGroupsAndDropsEmptyOnes() {
        List<TokenBatch.Example> c = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            c.add(new TokenBatch.Example(new int[]{3}, new int[]{4 + i, 2}));
        }
        GroupBatch all = new GroupBatch(c, new double[]{0, 1, 2, 3, 4}, new int[]{0, 3, 5});
        GroupBatch some = all.select(new int[]{1, 3});
        assertThat(some.candidates()).containsExactly(c.get(1), c.get(3));
        assertThat(some.starts()).containsExactly(0, 1, 2);
        assertThat(all.select(new int[]{3, 4}).starts()).containsExactly(0, 2);
        assertThat(all.select(new int[]{})).isNull();
    }

    @Test
    void groupGradientsThroughTheModelMatchFiniteDifferences() {
        LlamaConfig config = LlamaConfig.tiny(12, 16, 2, 4, 2, 16);
        try (LlamaModel model = LlamaModel.random(config, manager, 11, DataType.FLOAT64)) {
            List<List<TokenBatch.Example>> groups = List.of(
                    List.of(ex(new int[]{3, 4}, 5, 6, 2), ex(new int[]{3, 4}, 9, 2), ex(new int[]{3, 4}, 7, 8, 10, 2)),
                    List.of(ex(new int[]{7}, 8, 2), ex(new int[]{7}, 11, 5, 2)));
            GroupBatch batch = GroupBatch.of(groups, List.of(new double[]{1, 0, 2}, new double[]{0.5, 1}));
            for (GroupObjective objective : List.of(new Rrhf(1.0), new Raft(2, 0.6))) {
                TrainStep step = new TrainStep(model, objective, new AdamW(0.9, 0.999, 1e-8, 0), LearningRateSchedule.constant(1e-3), 0);
                Map<String, double[]> analytic = new HashMap<>();
                step.groupGradients(List.of(batch), analytic);
                Random random = new Random(5);
                double h = 1e-6;
                for (String name : model.parameters().keySet()) {
                    NDArray p = model.parameters().get(name);
                    int i = random.nextInt((int) p.size());
                    double numeric = (lossWith(() -> step.groupLoss(List.of(batch)), p, i, h)
                            - lossWith(() -> step.groupLoss(List.of(batch)), p, i, -h)) / (2 * h);
                    assertThat(analytic.get(name)[i]).as("%s %s[%d]", objective.name(), name, i)
                            .isCloseTo(numeric, within(1e-6 + 1e-4 * Math.abs(numeric)));
                }
            }
        }
    }

    @Test
    void aStepWithNothingKeptSaysSo() {
        try (LlamaModel model = LlamaModel.random(LlamaConfig.tiny(12, 16, 1, 4, 2, 16), manager, 1, DataType.FLOAT32);
             TrainStep step = new TrainStep(model, new Raft(1, 5.0), new AdamW(0.9, 0.999, 1e-8, 0), LearningRateSchedule.constant(1e-3), 0)) {
            GroupBatch low = GroupBatch.of(List.of(List.of(ex(new int[]{3}, 4, 2), ex(new int[]{3}, 5, 2))), List.of(new double[]{1, 2}));
            assertThatThrownBy(() -> step.stepGroups(List.of(low))).isInstanceOf(TrainStep.NothingToTrain.class)
                    .hasMessageContaining("raft needs none of these candidates");
            assertThat(step.steps()).isZero();
        }
    }

    /** A micro-batch of one group: DJL's concat of one array drops the autograd graph; the step must still train. */
    @Test
    void stepsOnSmallAndTiedGroupsTrain() {
        try (LlamaModel model = LlamaModel.random(LlamaConfig.tiny(12, 16, 1, 4, 2, 16), manager, 1, DataType.FLOAT32);
             TrainStep step = new TrainStep(model, new Rrhf(1.0), new AdamW(0.9, 0.999, 1e-8, 0), LearningRateSchedule.constant(1e-3), 0)) {
            GroupBatch tied = GroupBatch.of(List.of(List.of(ex(new int[]{3}, 4, 2), ex(new int[]{3}, 4, 2), ex(new int[]{3}, 5, 2),
                    ex(new int[]{3}, 6, 2))), List.of(new double[]{0, 0, 0, 0}));
            float[] before = model.parameters().get("model.layers.0.mlp.down_proj.weight").toFloatArray();
            assertThat(step.stepGroups(List.of(tied)).skipped()).isFalse();
            assertThat(model.parameters().get("model.layers.0.mlp.down_proj.weight").toFloatArray()).as("the step moved the weights").isNotEqualTo(before);
            GroupBatch one = GroupBatch.of(List.of(List.of(ex(new int[]{3}, 4, 2))), List.of(new double[]{1}));
            assertThat(step.stepGroups(List.of(one)).skipped()).isFalse();
            assertThat(step.stepGroups(List.of(tied, one)).skipped()).isFalse();
        }
    }

    private static TokenBatch.Example ex(int[] prompt, int... response) {
        return new TokenBatch.Example(prompt, response);
    }
}
