package io.spinstream.model.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.LogProbs;
import io.spinstream.model.NoGrad;
import io.spinstream.model.SequenceLogProbs;
import io.spinstream.model.TokenBatch;
import io.spinstream.model.objective.LossResult;
import io.spinstream.model.objective.Objective;
import io.spinstream.model.objective.GroupLogProbs;
import io.spinstream.model.objective.GroupObjective;
import io.spinstream.model.objective.PairLogProbs;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One optimiser step over one or more micro-batches: gradients accumulate across them (each micro-batch's
 * loss weighted by its share of the pairs), are clipped to a global L2 norm, and are applied by the
 * optimiser at the scheduled learning rate. A NaN/inf loss or gradient skips the step (counted), so a
 * bad batch never reaches the weights.
 */
public final class TrainStep implements AutoCloseable {
    private final LlamaModel model;
    private final Objective objective;        // pairs (SPIN, DPO, SimPO, SFT); null for a group objective
    private final GroupObjective groupObjective; // groups of candidates with rewards (RAFT, RRHF); else null
    private final Optimizer optimizer;
    private final LearningRateSchedule schedule;
    private final double maxGradNorm;
    private long steps;
    private long skipped;

    /** @param maxGradNorm global-norm clip; 0 or less disables clipping */
    public TrainStep(LlamaModel model, Objective objective, Optimizer optimizer, LearningRateSchedule schedule,
                     double maxGradNorm) {
        this(model, objective, null, optimizer, schedule, maxGradNorm);
    }

    /** A step of a group objective: {@link #stepGroups}, {@link #groupGradients}, {@link #groupLoss}. */
    public TrainStep(LlamaModel model, GroupObjective objective, Optimizer optimizer, LearningRateSchedule schedule,
                     double maxGradNorm) {
        this(model, null, objective, optimizer, schedule, maxGradNorm);
    }

    private TrainStep(LlamaModel model, Objective objective, GroupObjective groupObjective, Optimizer optimizer,
                      LearningRateSchedule schedule, double maxGradNorm) {
        for (Map.Entry<String, NDArray> e : model.trainableParameters().entrySet()) {
            if (!io.spinstream.model.Precision.isFull(e.getValue().getDataType())) {
                throw new IllegalArgumentException("trained parameters are float32, but " + e.getKey() + " is "
                        + e.getValue().getDataType() + ": a half-precision model is trained through a LoRA adapter");
            }
        }
        this.model = model;
        this.objective = objective;
        this.groupObjective = groupObjective;
        this.optimizer = optimizer;
        this.schedule = schedule;
        this.maxGradNorm = maxGradNorm;
    }

    private record Accumulated(double loss, double margin, double accuracy, long tokens, boolean finite) {
    }

    /** A group objective kept none of a step's candidates (RAFT with all rewards below min.reward). */
    public static final class NothingToTrain extends RuntimeException {
        NothingToTrain(String message) {
            super(message);
        }
    }

    /** One micro-batch as a step sees it: how much of the step it is, its loss, its response tokens. */
    private interface Micro {
        int weight();

        LossResult loss(NDManager scope);

        long tokens();
    }

    private List<Micro> pairs(List<PreferenceBatch> microBatches) {
        if (objective == null) {
            throw new IllegalStateException("this step trains " + groupObjective.name() + ": use stepGroups");
        }
        int pad = model.config().padTokenId();
        return microBatches.stream().<Micro>map(micro -> new Micro() {
            public int weight() {
                return micro.size();
            }

            public LossResult loss(NDManager scope) {
                return objective.loss(logProbs(scope, micro, pad));
            }

            public long tokens() {
                return TokenBatch.of(objective.usesRejected() ? micro.stacked() : micro.chosen(), pad).responseTokens();
            }
        }).toList();
    }

    /** Each group micro-batch reduced to the candidates the objective needs (RAFT: the kept ones); empty ones drop. */
    private List<Micro> groups(List<GroupBatch> microBatches) {
        if (groupObjective == null) {
            throw new IllegalStateException("this step trains " + objective.name() + ": use step");
        }
        int pad = model.config().padTokenId();
        List<Micro> out = new java.util.ArrayList<>();
        for (GroupBatch micro : microBatches) {
            GroupBatch needed = micro.select(groupObjective.needed(micro.rewards(), micro.starts()));
            if (needed == null) {
                continue;
            }
            out.add(new Micro() {
                public int weight() {
                    return needed.groups();
                }

                public LossResult loss(NDManager scope) {
                    SequenceLogProbs lp = LogProbs.of(model, scope, TokenBatch.of(needed.candidates(), pad));
                    return groupObjective.loss(new GroupLogProbs(lp, needed.rewards(), needed.starts()));
                }

                public long tokens() {
                    return TokenBatch.of(needed.candidates(), pad).responseTokens();
                }
            });
        }
        if (out.isEmpty()) {
            throw new NothingToTrain(groupObjective.name() + " needs none of these candidates (none kept): nothing to train");
        }
        return out;
    }

    /** Forward and backward over the micro-batches; gradients accumulate in the parameters. */
    private Accumulated accumulate(NDManager scope, List<Micro> microBatches) {
        int total = microBatches.stream().mapToInt(Micro::weight).sum();
        double loss = 0;
        double margin = 0;
        double accuracy = 0;
        long tokens = 0;
        for (Micro micro : microBatches) {
            double share = (double) micro.weight() / total;
            try (NDManager microScope = scope.newSubManager();
                 GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                LossResult result = micro.loss(microScope);
                double value = result.lossValue();
                tokens += micro.tokens();
                if (!Double.isFinite(value)) {
                    model.discardPendingBackward();
                    return new Accumulated(Double.NaN, Double.NaN, Double.NaN, tokens, false);
                }
                collector.backward(result.loss().mul(share));
                model.completeBackward(); // the layers' backward, when the pass kept only their inputs
                loss += value * share;
                margin += result.meanMargin() * share;
                accuracy += result.rewardAccuracy() * share;
            }
        }
        return new Accumulated(loss, margin, accuracy, tokens, true);
    }

    public StepResult step(List<PreferenceBatch> microBatches) {
        return apply(pairs(microBatches));
    }

    /** One optimiser step of the group objective over the micro-batches of groups. */
    public StepResult stepGroups(List<GroupBatch> microBatches) {
        return apply(groups(microBatches));
    }

    private StepResult apply(List<Micro> microBatches) {
        try (NDManager scope = model.manager().newSubManager()) {
            Accumulated acc = accumulate(scope, microBatches);
            double lr = schedule.at(steps);
            Map<String, NDArray> grads = gradients(scope);
            double norm = acc.finite() ? globalNorm(grads) : Double.NaN;
            boolean skip = !acc.finite() || !Double.isFinite(norm);
            if (skip) {
                skipped++;
            } else {
                if (maxGradNorm > 0 && norm > maxGradNorm) {
                    double factor = maxGradNorm / (norm + 1e-6);
                    grads.values().forEach(g -> g.muli(factor));
                }
                try (NoGrad ignored = NoGrad.enter()) {
                    optimizer.update(model.trainableParameters(), grads, lr);
                }
            }
            zero(grads);
            StepResult result = new StepResult(steps, skip ? Double.NaN : acc.loss(), norm, lr, acc.margin(),
                    acc.accuracy(), acc.tokens(), skip);
            steps++;
            return result;
        }
    }

    /**
     * The loss and its gradient by parameter name, without changing the model (for gradient checks and
     * diagnostics).
     */
    public double gradients(List<PreferenceBatch> microBatches, Map<String, double[]> out) {
        return gradientsOf(pairs(microBatches), out);
    }

    /** As {@link #gradients(List, Map)} for the group objective. */
    public double groupGradients(List<GroupBatch> microBatches, Map<String, double[]> out) {
        return gradientsOf(groups(microBatches), out);
    }

    private double gradientsOf(List<Micro> microBatches, Map<String, double[]> out) {
        try (NDManager scope = model.manager().newSubManager()) {
            Accumulated acc = accumulate(scope, microBatches);
            Map<String, NDArray> grads = gradients(scope);
            grads.forEach((name, g) -> out.put(name, g.toType(DataType.FLOAT64, true).toDoubleArray()));
            zero(grads);
            return acc.loss();
        }
    }

    /** The loss alone, without gradients. */
    public double loss(List<PreferenceBatch> microBatches) {
        return lossOf(pairs(microBatches));
    }

    /** The group objective's loss alone, without gradients. */
    public double groupLoss(List<GroupBatch> microBatches) {
        return lossOf(groups(microBatches));
    }

    private double lossOf(List<Micro> microBatches) {
        int total = microBatches.stream().mapToInt(Micro::weight).sum();
        double loss = 0;
        try (NoGrad ignored = NoGrad.enter(); NDManager scope = model.manager().newSubManager()) {
            for (Micro micro : microBatches) {
                loss += micro.loss(scope).lossValue() * micro.weight() / total;
            }
        }
        return loss;
    }

    private PairLogProbs logProbs(NDManager scope, PreferenceBatch micro, int pad) {
        int n = micro.size();
        SequenceLogProbs chosen;
        SequenceLogProbs rejected;
        if (objective.usesRejected()) {
            SequenceLogProbs both = LogProbs.of(model, scope, TokenBatch.of(micro.stacked(), pad));
            chosen = slice(both, 0, n);
            rejected = slice(both, n, 2 * n);
        } else {
            chosen = LogProbs.of(model, scope, TokenBatch.of(micro.chosen(), pad));
            rejected = chosen;
        }
        // The loss in float32 (float64 in gradient checks), whatever the forward pass computed in.
        DataType type = chosen.sum().getDataType();
        NDArray refChosen = scope.create(micro.refChosen()).toType(type, false);
        NDArray refRejected = scope.create(micro.refRejected()).toType(type, false);
        NDArray identical = scope.create(micro.identical(), new Shape(n)).toType(type, false);
        return new PairLogProbs(chosen, rejected, refChosen, refRejected, identical);
    }

    private static SequenceLogProbs slice(SequenceLogProbs all, int from, int to) {
        String range = from + ":" + to;
        return new SequenceLogProbs(all.sum().get(range), all.mean().get(range), all.lengths().get(range));
    }

    private Map<String, NDArray> gradients(NDManager scope) {
        Map<String, NDArray> grads = new LinkedHashMap<>();
        model.trainableParameters().forEach((name, p) -> {
            NDArray g = p.getGradient();
            g.attach(scope);
            grads.put(name, g);
        });
        return grads;
    }

    static double globalNorm(Map<String, NDArray> grads) {
        double sum = 0;
        for (NDArray g : grads.values()) {
            // Summed in float64; each temporary is freed before the next gradient's (a whole model's float64
            // copies would otherwise live until the step ends: 4 GB for 0.5B parameters).
            NDArray wide = g.getDataType() == DataType.FLOAT64 ? null : g.toType(DataType.FLOAT64, true);
            NDArray squares = (wide == null ? g : wide).square();
            try (NDArray total = squares.sum()) {
                sum += total.getDouble();
            } finally {
                squares.close();
                if (wide != null) {
                    wide.close();
                }
            }
        }
        return Math.sqrt(sum);
    }

    /** Zeroes by assignment, not subtraction: NaN − NaN is still NaN. */
    private static void zero(Map<String, NDArray> grads) {
        grads.values().forEach(g -> g.set(new NDIndex("..."), 0));
    }

    public long steps() {
        return steps;
    }

    /**
     * The optimiser's statistics and this step counter, for a checkpoint that must resume exactly
     * (the learning-rate schedule continues from the same step).
     */
    public Map<String, NDArray> state(NDManager scope) {
        Map<String, NDArray> out = new LinkedHashMap<>(optimizer.state());
        out.put("train.steps", scope.create(new double[]{steps}));
        out.put("train.skipped", scope.create(new double[]{skipped}));
        return out;
    }

    public void restore(Map<String, NDArray> state) {
        optimizer.restore(state, model.manager());
        if (state.containsKey("train.steps")) {
            steps = (long) state.get("train.steps").toType(DataType.FLOAT64, false).getDouble(0);
            skipped = (long) state.get("train.skipped").toType(DataType.FLOAT64, false).getDouble(0);
        }
    }

    /** Steps skipped because of a NaN/inf loss or gradient. */
    public long skippedSteps() {
        return skipped;
    }

    @Override
    public void close() {
        optimizer.close();
    }
}
