package io.spinstream.trainer.round;

import io.spinstream.model.LlamaModel;
import io.spinstream.model.Precision;
import io.spinstream.model.lora.LoraConfig;
import io.spinstream.model.objective.GroupObjective;
import io.spinstream.model.objective.Objective;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.model.train.LearningRateSchedule;
import io.spinstream.model.train.Optimizer;
import io.spinstream.model.train.TrainStep;

import java.nio.file.Path;

/** How a round trains, in the groups its settings come in. */
public record RoundSettings(Training training, Checkpointing checkpointing, Convergence convergence,
                            RejectionPolicy policy, boolean includePreviousRound, PromptTemplate template, long progressMs) {

    /**
     * The objective and the optimiser, and what is trained: every weight ({@code lora} null), or a LoRA
     * adapter over the frozen opponent, held as {@code basePrecision} says.
     */
    public record Training(Objective objective, String optimizer, double lr, int warmup, double weightDecay,
                           double maxGradNorm, int batchSize, int accumulation, LoraConfig lora, Precision basePrecision,
                           GroupObjective groups, Memory memory) {
        public Training {
            if (lora == null && !Precision.isFull(basePrecision.weights())) {
                throw new IllegalArgumentException("full fine-tuning trains float32 weights: spin.model.dtype="
                        + Precision.nameOf(basePrecision.weights()) + " needs spin.trainer.lora.rank > 0");
            }
        }

        /** Full fine-tuning in float32. */
        public Training(Objective objective, String optimizer, double lr, int warmup, double weightDecay, double maxGradNorm,
                        int batchSize, int accumulation) {
            this(objective, optimizer, lr, warmup, weightDecay, maxGradNorm, batchSize, accumulation, null, Precision.FLOAT32, null,
                    Memory.DEFAULT);
        }

        public Training withLora(LoraConfig adapter, Precision base) {
            return new Training(objective, optimizer, lr, warmup, weightDecay, maxGradNorm, batchSize, accumulation, adapter, base,
                    groups, memory);
        }

        /** The same training holding its passes' activations as {@code plan} says. */
        public Training withMemory(Memory plan) {
            return new Training(objective, optimizer, lr, warmup, weightDecay, maxGradNorm, batchSize, accumulation, lora,
                    basePrecision, groups, plan);
        }

        /** Training on groups of K samples with rewards (RAFT, RRHF) instead of pairs. */
        public Training withGroups(GroupObjective objective) {
            return new Training(this.objective, optimizer, lr, warmup, weightDecay, maxGradNorm, batchSize, accumulation, lora,
                    basePrecision, objective, memory);
        }

        /** The name of what is trained: the group objective's, else the pair objective's. */
        public String objectiveName() {
            return groups != null ? groups.name() : objective.name();
        }

        public int pairsPerStep() {
            return batchSize * accumulation;
        }

        /** A fresh optimiser over {@code model} at {@code lr}; no decay, as a round's length is not known in advance. */
        public TrainStep newStep(LlamaModel model, double learningRate) {
            model.activationCheckpointing(memory.activationCheckpointing());
            model.attentionBlock(memory.attentionBlock());
            LearningRateSchedule schedule = new LearningRateSchedule(learningRate, warmup, 0, 1.0);
            return groups != null ? new TrainStep(model, groups, Optimizer.parse(optimizer, weightDecay), schedule, maxGradNorm)
                    : new TrainStep(model, objective, Optimizer.parse(optimizer, weightDecay), schedule, maxGradNorm);
        }
    }

    /**
     * What a training pass holds: with activation checkpointing only each layer's input (the backward recomputes one
     * layer at a time); attention forms at most {@code attentionBlock} queries' scores at once (0: all).
     */
    public record Memory(boolean activationCheckpointing, int attentionBlock) {
        public static final Memory DEFAULT = new Memory(true, LlamaModel.DEFAULT_ATTENTION_BLOCK);
    }

    /** Where candidates go and how often: ids are {@code <runId>-r<round>-s<step>}. */
    public record Checkpointing(String runId, Path store, int everySteps) {
    }

    /** A round with at least {@code minPairs} pairs, {@code share} of them y' = y, has nothing left to learn. */
    public record Convergence(double share, int minPairs) {
    }
}
