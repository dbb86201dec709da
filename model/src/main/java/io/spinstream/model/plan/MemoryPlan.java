package io.spinstream.model.plan;

import ai.djl.ndarray.types.DataType;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.Precision;
import io.spinstream.model.lora.LoraConfig;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * The peak memory of one training step (SPIN or any pairwise objective: {@code batch} sequences of {@code seq} tokens
 * in one micro-batch), predicted by part from the model's shape and the settings, before anything is loaded.
 * <p>
 * What a step holds throughout: the runtime, the weights, the trained parameters with their gradients and AdamW's two
 * moments, and the activations a pass keeps (with activation checkpointing each layer's input, else every layer's
 * graph). On top of that, one at a time, the largest of: one layer's recomputation and backward (a block of rows),
 * with the attention scores that layer keeps; the head's block of logits and log-softmax with their gradients; the
 * optimiser's update. The arithmetic follows what {@link LlamaModel} allocates; the per-token counts of a layer's
 * intermediates are counted from its operations (each array a block's scope holds until it closes).
 */
public record MemoryPlan(Setup setup, List<Part> held, List<Part> peakOf, Part largestPeak) {

    /** Where the step runs: the CPU (resident memory) or a GPU (device memory). */
    public enum Device { CPU, CUDA }

    /**
     * What is planned.
     *
     * @param loraRank      0 for full fine-tuning
     * @param weights       the base weights' type (a LoRA base may be float16; full fine-tuning trains float32 weights)
     * @param compute       the type passes compute in
     * @param reference     a frozen copy of the weights too (SPIN with the previous round's pairs)
     */
    public record Setup(LlamaConfig model, int seq, int batch, int loraRank, List<String> loraTargets, Device device,
                        DataType weights, DataType compute, boolean checkpointing, int attentionBlock, int rowBlockTokens,
                        boolean reference) {
        public Setup {
            if (seq < 1 || batch < 1) {
                throw new IllegalArgumentException("--seq and --batch must be >= 1, got " + seq + " and " + batch);
            }
            if (loraRank < 0) {
                throw new IllegalArgumentException("--lora must be >= 0 (0: full fine-tuning), got " + loraRank);
            }
            if (loraRank == 0 && weights != DataType.FLOAT32) {
                throw new IllegalArgumentException("full fine-tuning trains float32 weights; a " + Precision.nameOf(weights)
                        + " base is trained with LoRA (--lora R)");
            }
        }

        /** The defaults a trainer runs with: checkpointing on, attention blocks of 512, row blocks of 2,048 tokens. */
        public static Setup of(LlamaConfig model, int seq, int batch, int loraRank, Device device, DataType weights,
                               DataType compute) {
            return new Setup(model, seq, batch, loraRank, LoraConfig.PROJECTIONS, device, weights, compute, true,
                    LlamaModel.DEFAULT_ATTENTION_BLOCK, LlamaModel.DEFAULT_ROW_BLOCK_TOKENS, false);
        }

        boolean lora() {
            return loraRank > 0;
        }
    }

    /** A part of the peak: what it is, its size, and how it is counted. */
    public record Part(String name, long bytes, String how) {
        public double gib() {
            return bytes / (double) GIB;
        }
    }

    public static final long GIB = 1L << 30;

    /**
     * What is resident besides the tensors counted: the JVM and libtorch (0.2 GiB before the first weight on the 2-core
     * CPU machine), the Java heap a step's bookkeeping grows, and the allocator's slack (freed memory not yet returned).
     * An estimate: 0.7 GiB while glibc's heap fragmented, lowered to 0.5 GiB once its mmap threshold was fixed (as
     * {@code ./spin} and the images run it), after the validation rows of that change were seen; the shapes kept out of
     * that choice are the check. On a GPU, the CUDA context's share of device memory.
     */
    static final long CPU_RUNTIME = 512L << 20;
    static final long CUDA_RUNTIME = 600L << 20;

    /** The plan's peak: what is held plus the largest of what comes and goes. */
    public long peakBytes() {
        return held.stream().mapToLong(Part::bytes).sum() + largestPeak.bytes();
    }

    public double peakGib() {
        return peakBytes() / (double) GIB;
    }

    public boolean fits(long memoryBytes) {
        return peakBytes() <= memoryBytes;
    }

    public static MemoryPlan of(Setup s) {
        LlamaConfig m = s.model();
        long c = bytes(s.compute());
        long w = bytes(s.weights());
        long params = m.parameterCount();
        long embed = m.sizeOf("model.embed_tokens.weight");
        long layerParams = (params - embed - (m.tieWordEmbeddings() ? 0 : embed)) / m.numLayers();
        long h = m.hiddenSize();
        long inter = m.intermediateSize();
        long qd = (long) m.numHeads() * m.headDim();
        long kvd = (long) m.numKvHeads() * m.headDim();
        long tokens = (long) s.batch() * s.seq();

        List<Part> held = new ArrayList<>();
        held.add(new Part("runtime", s.device() == Device.CPU ? CPU_RUNTIME : CUDA_RUNTIME,
                s.device() == Device.CPU ? "JVM, libtorch, heap and the allocator's slack (estimate)" : "CUDA context (estimate)"));
        held.add(new Part("weights", params * w, String.format(Locale.ROOT, "%,d parameters × %d B (%s)", params, w,
                Precision.nameOf(s.weights()))));
        if (s.reference()) {
            held.add(new Part("reference", params * w, "a frozen copy of the weights (previous round's pairs)"));
        }
        long adapter = 0;
        if (s.lora()) {
            LoraConfig lora = new LoraConfig(s.loraRank(), 2.0 * s.loraRank(), 0, s.loraTargets(), false);
            for (String module : lora.modules(m)) {
                long[] shape = m.shapeOf(module + ".weight");
                adapter += (long) s.loraRank() * (shape[0] + shape[1]);
            }
            held.add(new Part("trained parameters + gradients + moments", adapter * 16,
                    String.format(Locale.ROOT, "LoRA rank %d: %,d float32 parameters × (value, gradient, 2 AdamW moments)", s.loraRank(), adapter)));
        } else {
            held.add(new Part("trained parameters + gradients + moments", params * 12,
                    "the weights' float32 gradients and 2 AdamW moments (the weights above)"));
        }

        long rows = s.checkpointing() ? Math.max(1, Math.min(s.batch(), s.rowBlockTokens() / Math.max(1, s.seq()))) : s.batch();
        long blockTokens = rows * s.seq();
        long attnBlock = s.attentionBlock() <= 0 ? s.seq() : Math.min(s.seq(), s.attentionBlock());
        long softcaps = m.attentionSoftcap() > 0 ? 2 : 0;
        // Scores and their softmax, every block's kept for the backward (+ the soft-cap's two), per row.
        long scoresKept = c * m.numHeads() * (long) s.seq() * s.seq() * (2 + softcaps);
        long layerActs = c * (16 * h + 12 * qd + 8 * kvd + (s.lora() ? 11 : 7) * inter);
        long layerCasts = s.weights() != s.compute() ? layerParams * (w + c) // stacked half copies, then converted
                : s.lora() ? 0 : (qd + 2 * kvd + 2 * inter) * h * c * 2;  // full: stacked copies and their gradients
        long backwardExtra = c * (2 * inter + 4 * h);
        long blockScoresGrad = c * m.numHeads() * attnBlock * s.seq() * 3;

        if (s.checkpointing()) {
            held.add(new Part("activations kept", (m.numLayers() + 1) * tokens * h * c + 2 * tokens * h * 4,
                    String.format(Locale.ROOT, "%d layer inputs + the top, [%d, %d, %d] × %d B, and the gradient passed down",
                            m.numLayers(), s.batch(), s.seq(), h, c)));
        } else {
            held.add(new Part("activations kept", m.numLayers() * (tokens * layerActs + s.batch() * scoresKept),
                    "every layer's graph (no activation checkpointing)"));
        }

        List<Part> peaks = new ArrayList<>();
        long recompute = blockTokens * (layerActs + backwardExtra) + layerCasts;
        long attention = rows * (scoresKept + blockScoresGrad);
        peaks.add(new Part("one layer's recomputation + attention block",
                recompute + attention, String.format(Locale.ROOT, "%d row(s) × %d tokens: %.2f GiB of intermediates and weight copies,"
                        + " %.2f GiB of attention scores (blocks of %d queries)", rows, s.seq(), recompute / (double) GIB,
                attention / (double) GIB, attnBlock)));

        long positions = Math.max(1, LlamaModel.DEFAULT_HEAD_BLOCK_LOGITS / ((long) m.vocabSize() * s.batch()));
        long headElements = (long) s.batch() * Math.min(s.seq(), positions) * m.vocabSize();
        long perLogit = Precision.isFull(s.compute()) ? 16 : 20; // logits, log-softmax and their gradients (+ a cast)
        long headWeight = (s.weights() != s.compute() ? embed * c : 0) + (s.lora() ? 0 : embed * 4);
        if (!s.checkpointing()) {
            headElements = tokens * m.vocabSize(); // every block's logits kept for the backward
        }
        peaks.add(new Part("logits and log-softmax", headElements * perLogit + headWeight,
                String.format(Locale.ROOT, "%,d logits a block × %d B%s", headElements, perLogit,
                        headWeight > 0 ? " + the head weight's " + (s.lora() ? "converted copy" : "gradient") : "")));
        if (!s.lora()) {
            // Gradient clipping's global norm sums each gradient's squares in float64, one tensor at a time: a float64
            // copy and its squares of the largest trained tensor (AdamW's temporaries, float32, are smaller).
            long largest = m.parameterNames().stream().mapToLong(m::sizeOf).max().orElse(0);
            peaks.add(new Part("optimiser update", largest * 16, "the gradient norm's float64 copy and squares of the"
                    + " largest tensor"));
        }
        Part top = peaks.stream().max(Comparator.comparingLong(Part::bytes)).orElseThrow();
        return new MemoryPlan(s, List.copyOf(held), List.copyOf(peaks), top);
    }

    private static long bytes(DataType t) {
        return switch (t) {
            case FLOAT16 -> 2;
            case FLOAT32 -> 4;
            case FLOAT64 -> 8;
            default -> throw new IllegalArgumentException("no plan for " + t);
        };
    }
}
