package io.spinstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import io.spinstream.model.lora.LoraAdapter;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.ArrayList;
import java.util.Arrays;

/**
 * A Llama-family decoder (RMSNorm, rotary position embeddings, SwiGLU MLP, grouped-query attention,
 * optional q/k/v bias and tied embeddings) written as plain tensor operations over named parameters.
 * Parameters carry their Hugging Face names, so checkpoints load and save without a mapping table.
 * The model owns its parameters' manager; everything a forward pass creates belongs to the caller's scope.
 */
public final class LlamaModel implements AutoCloseable {
    private final LlamaConfig config;
    private final NDManager manager;
    private final Map<String, NDArray> parameters;
    private final Precision precision;
    private final NDArray globalFrequencies; // [rotary dims / 2], float64: angles are computed from positions per pass
    private final NDArray localFrequencies;  // the sliding layers' own (Gemma 3), or null
    private final double attentionFactor;
    private final double localAttentionFactor;
    // Parsed once: an NDIndex from a string is parsed on every call, many times a layer a token.
    private final NDIndex[] qkvParts;
    private final NDIndex[] gateUpParts;
    private final NDIndex[] halves;
    private final NDIndex[] rotaryParts; // the rotated dimensions and those passed through (partial rotary)
    private final Family family;
    private LoraAdapter adapter; // trained over the frozen base when set
    // Queries whose scores are formed at once (0: all of them): prefill, scoring and training hold one block's
    // [batch, heads, block, keys] scores per layer, not [batch, heads, steps, keys].
    private int attentionBlock = DEFAULT_ATTENTION_BLOCK;
    // Tokens a layer works on at once where nothing of it is kept (a pass without gradients, a checkpointed layer's
    // recomputation): as many batch rows as hold this many, at least one. A layer's intermediates are several times
    // its input; over 4 rows of 2,048 tokens they were 4 GB of a Qwen2.5-0.5B layer.
    private int rowBlockTokens = DEFAULT_ROW_BLOCK_TOKENS;
    private long headBlockLogits = DEFAULT_HEAD_BLOCK_LOGITS;
    private boolean checkpointing;
    // Training passes whose layers still owe their backward (activation checkpointing), oldest first.
    private final List<CheckpointedPass> pending = new ArrayList<>();

    private LlamaModel(LlamaConfig config, NDManager manager, Map<String, NDArray> parameters, Precision precision) {
        long qWidth = (long) config.numHeads() * config.headDim();
        long kvWidth = (long) config.numKvHeads() * config.headDim();
        long inter = config.intermediateSize();
        this.qkvParts = new NDIndex[]{new NDIndex("..., :" + qWidth), new NDIndex("..., " + qWidth + ":" + (qWidth + kvWidth)),
                new NDIndex("..., " + (qWidth + kvWidth) + ":")};
        this.gateUpParts = new NDIndex[]{new NDIndex("..., :" + inter), new NDIndex("..., " + inter + ":")};
        int rotary = config.rope().rotaryDim();
        long half = rotary / 2;
        this.halves = new NDIndex[]{new NDIndex("..., :" + half), new NDIndex("..., " + half + ":")};
        this.rotaryParts = new NDIndex[]{new NDIndex("..., :" + rotary), new NDIndex("..., " + rotary + ":")};
        this.config = config;
        this.family = config.family();
        this.manager = manager;
        this.parameters = parameters;
        this.precision = precision;
        this.globalFrequencies = manager.create(config.rope().inverseFrequency());
        this.attentionFactor = config.rope().attentionFactor();
        this.localFrequencies = config.localRope() == null ? null : manager.create(config.localRope().inverseFrequency());
        this.localAttentionFactor = config.localRope() == null ? 1.0 : config.localRope().attentionFactor();
    }

    /** A float32 model (float64 when the tensors are) with the given parameters, copied into a manager of its own. */
    public static LlamaModel of(LlamaConfig config, NDManager parent, Map<String, NDArray> tensors) {
        NDArray embed = tensors.get("model.embed_tokens.weight");
        boolean f64 = embed != null && embed.getDataType() == DataType.FLOAT64;
        return of(config, parent, tensors, f64 ? Precision.FLOAT64 : Precision.FLOAT32);
    }

    /** A model with the given parameters kept in {@code precision.weights()} (copied into a manager of its own). */
    public static LlamaModel of(LlamaConfig config, NDManager parent, Map<String, NDArray> tensors, Precision precision) {
        return build(config, parent, tensors, precision, false);
    }

    /**
     * As {@link #of(LlamaConfig, NDManager, Map, Precision)}, but takes the tensors over instead of copying
     * them (a loader's: one copy of the weights in memory, not two); converted ones are closed.
     */
    public static LlamaModel adopt(LlamaConfig config, NDManager parent, Map<String, NDArray> tensors, Precision precision) {
        return build(config, parent, tensors, precision, true);
    }

    private static LlamaModel build(LlamaConfig config, NDManager parent, Map<String, NDArray> tensors, Precision precision,
                                    boolean take) {
        NDManager manager = parent.newSubManager();
        Map<String, NDArray> params = new LinkedHashMap<>();
        for (String name : config.parameterNames()) {
            NDArray t = tensors.get(name);
            if (t == null) {
                manager.close();
                throw new IllegalArgumentException("missing tensor " + name);
            }
            long[] expected = config.shapeOf(name);
            if (!t.getShape().equals(new Shape(expected))) {
                manager.close();
                throw new IllegalArgumentException("tensor " + name + " has shape " + t.getShape() + ", expected "
                        + new Shape(expected));
            }
            NDArray p;
            if (t.getDataType() == precision.weights()) {
                p = take ? t : t.duplicate();
            } else {
                p = t.toType(precision.weights(), true);
                if (take) {
                    t.close();
                }
            }
            p.attach(manager);
            p.setName(name);
            // Half-precision weights are a frozen base: only float32 weights are trained here.
            p.setRequiresGradient(Precision.isFull(precision.weights()));
            params.put(name, p);
        }
        return new LlamaModel(config, manager, params, precision);
    }

    /** Random initialisation: N(0, 0.02) weights, unit norms, zero biases; deterministic in {@code seed}. */
    public static LlamaModel random(LlamaConfig config, NDManager parent, long seed, DataType type) {
        Random random = new Random(seed);
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        try (NDManager scratch = parent.newSubManager()) {
            for (String name : config.parameterNames()) {
                long[] shape = config.shapeOf(name);
                int n = (int) new Shape(shape).size();
                double[] values = new double[n];
                if (name.endsWith("norm.weight")) {
                    Arrays.fill(values, config.family().unitOffsetNorm() ? 0.0 : 1.0); // Gemma: 1 + w
                } else if (!name.endsWith(".bias")) {
                    for (int i = 0; i < n; i++) {
                        values[i] = random.nextGaussian() * 0.02;
                    }
                }
                NDArray t = scratch.create(values, new Shape(shape)).toType(type, false);
                tensors.put(name, t);
            }
            return of(config, parent, tensors);
        }
    }

    public LlamaConfig config() {
        return config;
    }

    public NDManager manager() {
        return manager;
    }

    /** The parameters by their Hugging Face names, in checkpoint order. */
    public Map<String, NDArray> parameters() {
        return Collections.unmodifiableMap(parameters);
    }

    public long parameterCount() {
        return parameters.values().stream().mapToLong(p -> p.getShape().size()).sum();
    }

    /** The type forward passes compute in. */
    public DataType dataType() {
        return precision.compute();
    }

    public Precision precision() {
        return precision;
    }

    /** The adapter trained over this (then frozen) model, or null. */
    public LoraAdapter adapter() {
        return adapter;
    }

    /**
     * Puts {@code lora} over this model: from now on the base weights are frozen and forward passes add the
     * adapter's output; returns the adapter it replaces (the caller closes it), or null.
     */
    public LoraAdapter attach(LoraAdapter lora) {
        for (String module : lora.modules()) {
            if (!parameters.containsKey(module + ".weight")) {
                throw new IllegalArgumentException("adapter targets " + module + ", which this model does not have");
            }
        }
        LoraAdapter before = adapter;
        adapter = lora;
        parameters.values().forEach(p -> p.setRequiresGradient(false));
        return before;
    }

    /**
     * Adds {@code lora}'s B A to the weights it adapts, for good (each weight rounded once to its type); the
     * model forgets nothing else. Where an adapter is attached it stays attached.
     */
    public void merge(LoraAdapter lora) {
        try (NoGrad ignored = NoGrad.enter()) {
            for (String module : lora.modules()) {
                String name = module + ".weight";
                NDArray w = parameters.get(name);
                if (w == null) {
                    throw new IllegalArgumentException("adapter targets " + module + ", which this model does not have");
                }
                // One weight's float32 copy at a time: merging never holds a wide copy of the whole model.
                try (NDManager scope = manager.newSubManager()) {
                    DataType sum = w.getDataType() == DataType.FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32;
                    // duplicate(), not toType(same type, copy): to() returns w itself when the type matches, and
                    // w (closed below) may own the Java memory it was read into.
                    NDArray wide = w.getDataType() == sum ? w.duplicate() : w.toType(sum, false);
                    wide.attach(scope);
                    NDArray merged = wide.addi(lora.weightDelta(module, scope).toType(sum, false));
                    NDArray kept = w.getDataType() == sum ? merged : merged.toType(w.getDataType(), false);
                    kept.attach(manager);
                    kept.setName(name);
                    kept.setRequiresGradient(w.hasGradient());
                    parameters.put(name, kept);
                    w.close();
                }
            }
        }
    }

    /** What training changes: the adapter's matrices when one is attached, else every weight. */
    public Map<String, NDArray> trainableParameters() {
        return adapter != null ? adapter.parameters() : parameters();
    }

    /**
     * Attention forms the scores of at most {@code queries} queries at once (0: all of a pass's): a layer then holds
     * [batch, heads, queries, keys] scores instead of [batch, heads, steps, keys]. The result is the same.
     */
    public void attentionBlock(int queries) {
        if (queries < 0) {
            throw new IllegalArgumentException("the attention block must be >= 0 queries, got " + queries);
        }
        this.attentionBlock = queries;
    }

    /**
     * Activation checkpointing for training: a forward pass with gradients keeps each layer's input only, and
     * {@link #completeBackward()} recomputes the layers one at a time from the top, handing each input's gradient to
     * the layer below (the head's log-probs likewise, a block of positions at a time). Gradients equal those of the
     * plain pass; what a pass holds is one layer's graph instead of all of them. An adapter with dropout trains
     * without it (a recomputed layer would draw other dropout masks).
     */
    public void activationCheckpointing(boolean on) {
        this.checkpointing = on;
    }

    public boolean activationCheckpointing() {
        return checkpointing;
    }

    /**
     * Where no layer's intermediates are kept (passes without gradients and without a cache, a checkpointed layer's
     * forward and recomputation), a layer runs over as many batch rows at once as hold at most {@code tokens} tokens
     * (one row at least): rows do not mix within a layer, so the result is the same.
     */
    public void rowBlockTokens(int tokens) {
        if (tokens < 1) {
            throw new IllegalArgumentException("the row block must be >= 1 token, got " + tokens);
        }
        this.rowBlockTokens = tokens;
    }

    /**
     * After {@code backward(loss)} of a pass made with activation checkpointing: the backward of its head and layers,
     * accumulating their parameters' gradients. Does nothing for passes made without it.
     */
    public void completeBackward() {
        try {
            for (int i = pending.size() - 1; i >= 0; i--) {
                pending.get(i).backward();
            }
        } finally {
            pending.clear();
        }
    }

    /** Forgets the passes whose backward will not run (a loss that was not finite). */
    public void discardPendingBackward() {
        pending.clear();
    }

    private boolean checkpointed() {
        return checkpointing && ai.djl.pytorch.jni.JniUtils.isGradMode()
                && (adapter == null || adapter.config().dropout() == 0);
    }

    /** The attention block a model starts with (spin.model.attention.block's default). */
    public static final int DEFAULT_ATTENTION_BLOCK = 512;

    /** The default of {@link #rowBlockTokens(int)}. */
    public static final int DEFAULT_ROW_BLOCK_TOKENS = 2048;

    /**
     * Logits the head forms at once (2^26: 256 MiB in float32): its [rows, positions, vocab] logits are the largest
     * tensors of a pass, and its backward holds several of them (about 440 tokens of a 152k vocabulary a block).
     */
    public static final long DEFAULT_HEAD_BLOCK_LOGITS = 1L << 26;

    /** Positions of a batch the head takes at once. */
    private long headBlockPositions(long batch) {
        return Math.max(1, headBlockLogits / ((long) config.vocabSize() * Math.max(1, batch)));
    }

    /** The head forms at most {@code logits} logits at once (one position of the batch at least). The result is the same. */
    public void headBlockLogits(long logits) {
        if (logits < 1) {
            throw new IllegalArgumentException("the head block must be >= 1 logit, got " + logits);
        }
        this.headBlockLogits = logits;
    }

    /** Batch rows a layer takes at once where nothing of it is kept. */
    private long rowBlock(long steps) {
        return Math.max(1, rowBlockTokens / Math.max(1, steps));
    }

    /**
     * log p(target) at every input position [batch, steps], in float32 (float64 for a float64 model): what training
     * and scoring read. The head runs over blocks of positions, so that [batch, steps, vocab] logits are never all
     * held (gigabytes for a real vocabulary at real lengths); with activation checkpointing and gradients the pass is
     * recorded for {@link #completeBackward()}.
     */
    public NDArray targetLogProbs(NDArray inputIds, NDArray positions, NDArray targets) {
        if (checkpointed()) {
            return new CheckpointedPass(inputIds, positions, targets).forward();
        }
        return headLogProbs(hidden(inputIds, positions, null, null), targets);
    }

    /**
     * The head's log p(target) from the final hidden states, a block of positions at a time. Without gradients each
     * block's logits are freed before the next block's are made; with them, they are what the backward reads.
     */
    private NDArray headLogProbs(NDArray h, NDArray targets) {
        if (ai.djl.pytorch.jni.JniUtils.isGradMode()) {
            return headBlocks(h, targets, headWeight(h.getManager()), false); // the weight is part of the graph
        }
        // The weight's converted copy (vocabulary × hidden: half a gigabyte of Qwen's in float32) is freed with the
        // blocks, not kept for the rest of the pass.
        try (NDManager headScope = h.getManager().newSubManager()) {
            return headBlocks(h, targets, headWeight(headScope), true);
        }
    }

    /** log p(target) from h [batch, steps, hidden], a block of positions at a time; the result in h's scope. */
    private NDArray headBlocks(NDArray h, NDArray targets, NDArray head, boolean inference) {
        long steps = h.getShape().get(1);
        long block = headBlockPositions(h.getShape().get(0));
        if (steps <= block) {
            return headBlock(h, targets, head);
        }
        NDManager scope = h.getManager();
        NDList parts = new NDList();
        for (long from = 0; from < steps; from += block) {
            NDIndex cols = new NDIndex().addAllDim().addSliceDim(from, Math.min(steps, from + block));
            if (!inference) {
                parts.add(headBlock(h.get(cols), targets.get(cols), head));
                continue;
            }
            try (NDManager blockScope = scope.newSubManager()) {
                NDArray part = headBlock(inScope(h.get(cols), blockScope), targets.get(cols), head); // the block's
                part.attach(scope);                                                                 // logits freed
                parts.add(part);
            }
        }
        return NDArrays.concat(parts, 1);
    }

    /** The output projection's weight in the compute type (the embeddings' when tied). */
    private NDArray headWeight(NDManager scope) {
        return weight(config.tieWordEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight", scope);
    }

    /** The output projection of h, soft-capped where the family caps its logits. */
    private NDArray logits(NDArray h, NDArray head) {
        return softcap(Linear.linear(h, head).singletonOrThrow(), config.finalSoftcap());
    }

    private NDArray headBlock(NDArray h, NDArray targets, NDArray head) {
        NDArray logits = logits(h, head);
        // Log-probs in float32 at least: a half-precision softmax loses too much in its sums.
        NDArray logp = (Precision.isFull(logits.getDataType()) ? logits : Differentiable.cast(logits, DataType.FLOAT32))
                .logSoftmax(-1);
        return logp.gather(targets.expandDims(-1), 2).squeeze(-1);
    }

    /** The embeddings of the ids in the compute type (Gemma: × √hidden, the factor rounded to the compute type first). */
    private NDArray embed(NDArray inputIds) {
        NDArray x = compute(Embedding.embedding(inputIds, param("model.embed_tokens.weight"), SparseFormat.DENSE)
                .singletonOrThrow());
        return family.scaledEmbeddings() ? x.mul((float) Math.sqrt(config.hiddenSize())) : x;
    }

    /** What every layer of a pass reads besides its input: rotations and masks. */
    private record PassInputs(long batch, long steps, NDArray[] global, NDArray[] local, NDArray mask, NDArray windowMask) {
        NDArray[] rope(LlamaConfig config, int layer) {
            return !config.rotated().get(layer) ? null : config.sliding().get(layer) ? local : global;
        }

        NDArray mask(LlamaConfig config, int layer) {
            return config.sliding().get(layer) ? windowMask : mask;
        }

        /** What rows [from, to) of the batch read, sliced into {@code scope}; this itself for all rows. */
        PassInputs rows(long from, long to, NDManager scope) {
            if (from == 0 && to == batch) {
                return this;
            }
            NDIndex r = new NDIndex().addSliceDim(from, to);
            NDArray[] g = slice(global, r, scope);
            NDArray[] l = local == global ? g : slice(local, r, scope);
            return new PassInputs(to - from, steps, g, l, sliceMask(mask, r, scope), sliceMask(windowMask, r, scope));
        }

        private static NDArray[] slice(NDArray[] rope, NDIndex r, NDManager scope) {
            return new NDArray[]{inScope(rope[0].get(r), scope), inScope(rope[1].get(r), scope)};
        }

        /** A mask's rows where it has one per row (padding); a mask shared by all rows [1, ...] as it is. */
        private static NDArray sliceMask(NDArray mask, NDIndex r, NDManager scope) {
            return mask == null || mask.getShape().get(0) == 1 ? mask : inScope(mask.get(r), scope);
        }
    }

    /** Rows [from, to) of x [batch, ...] as an array of {@code scope}'s (a view: nothing copied). */
    private static NDArray rowsOf(NDArray x, long from, long to, NDManager scope) {
        return inScope(x.get(new NDIndex().addSliceDim(from, to)), scope);
    }

    /**
     * One layer without gradients over x [batch, steps, hidden], a block of rows at a time: each block's intermediates
     * live in a scope closed behind it. The output belongs to {@code scope}.
     */
    private NDArray layerInBlocks(int layer, NDArray x, NDManager scope, PassInputs pass) {
        return overRowBlocks(scope, pass, (from, to, part, blockScope) -> layer(layer, rowsOf(x, from, to, blockScope),
                blockScope, part.batch(), part.steps(), part.rope(config, layer), part.mask(config, layer), null));
    }

    /** A layer's work on batch rows [from, to): an array of those rows (an output, an input's gradient). */
    @FunctionalInterface
    private interface RowBlockStep {
        NDArray apply(long from, long to, PassInputs part, NDManager blockScope);
    }

    /**
     * {@code step} over the batch a block of rows at a time ({@link #rowBlockTokens(int)}), each block's
     * intermediates in a scope closed behind it; the blocks' results joined along the batch axis, in {@code scope}.
     */
    private NDArray overRowBlocks(NDManager scope, PassInputs pass, RowBlockStep step) {
        long rows = rowBlock(pass.steps());
        NDList outs = new NDList();
        for (long from = 0; from < pass.batch(); from += rows) {
            long to = Math.min(pass.batch(), from + rows);
            try (NDManager blockScope = scope.newSubManager()) {
                NDArray out = step.apply(from, to, pass.rows(from, to, blockScope), blockScope);
                out.attach(scope);
                outs.add(out);
            }
        }
        return concatRows(outs);
    }

    /** The blocks' arrays as one along the batch axis; the blocks closed. */
    private static NDArray concatRows(NDList blocks) {
        if (blocks.size() == 1) {
            return blocks.get(0);
        }
        NDArray all = NDArrays.concat(blocks, 0);
        blocks.forEach(NDArray::close);
        return all;
    }

    private PassInputs passInputs(NDManager scope, NDArray positions, NDArray keyMask, long batch, long steps, long past,
                                  DataType type) {
        NDArray[] global = rotation(positions, globalFrequencies, attentionFactor, type);
        NDArray[] local = localFrequencies == null ? global : rotation(positions, localFrequencies, localAttentionFactor, type);
        NDArray mask = attentionMask(scope, batch, steps, past, keyMask, type, 0);
        NDArray windowMask = config.slidingWindow() > 0
                ? attentionMask(scope, batch, steps, past, keyMask, type, config.slidingWindow()) : null;
        return new PassInputs(batch, steps, global, local, mask, windowMask);
    }

    /**
     * A training pass with activation checkpointing: the forward keeps each layer's input, the head's input and
     * the log-probs as leaves; {@link #backward()} walks back from the log-probs' gradient, recomputing the head a
     * block of positions at a time and each layer from its input, and ends at the embeddings.
     */
    private final class CheckpointedPass {
        private final NDManager scope;
        private final NDArray inputIds;
        private final NDArray positions;
        private final NDArray targets;
        private final NDArray[] layerInputs = new NDArray[config.numLayers()];
        private PassInputs inputs;
        private NDArray top;      // the last layer's output, a leaf
        private NDArray logProbs; // the head's log p(target), a leaf the loss is built on

        CheckpointedPass(NDArray inputIds, NDArray positions, NDArray targets) {
            this.scope = inputIds.getManager();
            this.inputIds = inputIds;
            this.positions = positions;
            this.targets = targets;
        }

        NDArray forward() {
            long batch = inputIds.getShape().get(0);
            long steps = inputIds.getShape().get(1);
            try (NoGrad ignored = NoGrad.enter()) {
                NDArray x = embed(inputIds);
                inputs = passInputs(scope, positions, null, batch, steps, 0, x.getDataType());
                for (int layer = 0; layer < config.numLayers(); layer++) {
                    layerInputs[layer] = x;
                    x = layerInBlocks(layer, x, scope, inputs);
                }
                top = x;
                logProbs = headLogProbs(rmsNorm(top, weight("model.norm.weight", scope)), targets);
            }
            logProbs.setRequiresGradient(true);
            pending.add(this);
            return logProbs;
        }

        /** The head's backward, a block of positions at a time, into the gradient of the last layer's output. */
        private void headBackward(NDArray grad, NDArray head, NDManager headScope, long batch, long steps) {
            long block = headBlockPositions(batch);
            for (long from = 0; from < steps; from += block) {
                try (NDManager blockScope = headScope.newSubManager()) {
                    NDIndex cols = new NDIndex().addAllDim().addSliceDim(from, Math.min(steps, from + block));
                    // The block's rows of the last layer's output first, moved into the block's scope, so that
                    // everything made from them (the norm, [batch, block, vocab] logits) is freed with it; the
                    // slice carries the gradient back to the whole output.
                    NDArray h = rmsNorm(inScope(top.get(cols), blockScope), weight("model.norm.weight", blockScope));
                    NDArray lp = headBlock(h, targets.get(cols), head);
                    NDArray g = inScope(grad.get(cols), blockScope);
                    ai.djl.pytorch.jni.JniUtils.backward((ai.djl.pytorch.engine.PtNDArray) lp,
                            (ai.djl.pytorch.engine.PtNDArray) Differentiable.cast(g, lp.getDataType()), false, false);
                }
            }
        }

        void backward() {
            if (!logProbs.hasGradient()) {
                return;
            }
            NDArray grad = logProbs.getGradient();
            grad.attach(scope);
            // The head, a block of positions at a time, into the gradient of the last layer's output.
            top.setRequiresGradient(true);
            long batch = targets.getShape().get(0);
            long steps = targets.getShape().get(1);
            try (NDManager headScope = scope.newSubManager()) { // the converted head weight freed before the layers
                headBackward(grad, headWeight(headScope), headScope, batch, steps);
            }
            grad = top.getGradient();
            grad.attach(scope);
            // Each layer from its input, top down, a block of rows at a time: one block's graph held at once.
            for (int layer = config.numLayers() - 1; layer >= 0; layer--) {
                int l = layer;
                NDArray above = grad;
                grad = overRowBlocks(scope, inputs, (from, to, part, blockScope) -> {
                    NDArray in = rowsOf(layerInputs[l], from, to, blockScope).duplicate(); // a leaf of its own
                    in.setRequiresGradient(true);
                    NDArray out = layer(l, in, blockScope, part.batch(), part.steps(), part.rope(config, l), part.mask(config, l),
                            null);
                    out.attach(blockScope);
                    ai.djl.pytorch.jni.JniUtils.backward((ai.djl.pytorch.engine.PtNDArray) out,
                            (ai.djl.pytorch.engine.PtNDArray) rowsOf(above, from, to, blockScope), false, false);
                    return in.getGradient();
                });
                above.close(); // the layer above's: read
                layerInputs[layer].close();
            }
            NDArray table = param("model.embed_tokens.weight");
            if (table.hasGradient()) { // trained (full fine-tuning): its rows get their gradient too
                try (NDManager embedScope = scope.newSubManager()) {
                    NDArray x = embed(inputIds);
                    x.attach(embedScope);
                    ai.djl.pytorch.jni.JniUtils.backward((ai.djl.pytorch.engine.PtNDArray) x,
                            (ai.djl.pytorch.engine.PtNDArray) grad, false, false);
                }
            }
        }
    }

    /**
     * Logits for {@code inputIds} [batch, steps].
     *
     * @param positions     position of every input token [batch, steps] (int64)
     * @param keyMask       1 for keys that may be attended to, 0 for padding, over all keys
     *                      (cached from the cache's {@link KvCache#attendFrom} column on, + new) [batch, keys];
     *                      null when there is no padding
     * @param cache         keys/values of earlier positions, extended in place; null for a full pass
     * @return logits [batch, steps, vocab], in the caller's scope
     */
    public NDArray forward(NDArray inputIds, NDArray positions, NDArray keyMask, KvCache cache) {
        NDArray x = hidden(inputIds, positions, keyMask, cache);
        return logits(x, headWeight(x.getManager()));
    }

    /**
     * Logits at the last input position only [batch, vocab]: what generation reads. A prompt's prefill through
     * {@link #forward} would make [batch, prompt, vocab] logits, gigabytes for a large vocabulary, to use one row.
     */
    public NDArray lastLogits(NDArray inputIds, NDArray positions, NDArray keyMask, KvCache cache) {
        NDArray x = hidden(inputIds, positions, keyMask, cache);
        long steps = x.getShape().get(1);
        NDArray last = x.get(new NDIndex().addAllDim().addIndices(steps - 1)); // [batch, hidden]
        return logits(last, headWeight(x.getManager()));
    }

    /**
     * The final hidden states (after the last RMSNorm) for {@code inputIds} [batch, steps]: what the head
     * reads, and what prompt embeddings are made of. Same arguments as {@link #forward}.
     *
     * @return [batch, steps, hidden], in the caller's scope
     */
    public NDArray hidden(NDArray inputIds, NDArray positions, NDArray keyMask, KvCache cache) {
        long batch = inputIds.getShape().get(0);
        long steps = inputIds.getShape().get(1);
        long past = cache == null ? 0 : cache.attended();
        NDManager scope = inputIds.getManager();
        NDArray x = embed(inputIds);
        PassInputs pass = passInputs(scope, positions, keyMask, batch, steps, past, x.getDataType());

        // Without gradients nothing needs a layer's intermediates once its output exists: each layer works in
        // a scope of its own, closed behind it, so a pass holds one layer's activations rather than all of them
        // (a large batch scored at once held gigabytes, and paid for them in page faults).
        boolean inference = !ai.djl.pytorch.jni.JniUtils.isGradMode();
        for (int layer = 0; layer < config.numLayers(); layer++) {
            if (inference && cache == null) {
                NDArray before = x;
                x = layerInBlocks(layer, x, scope, pass);
                before.close();
                continue;
            }
            NDManager layerScope = inference ? scope.newSubManager() : null;
            if (inference) {
                x.attach(layerScope); // results land in their first operand's manager
            }
            x = layer(layer, x, inference ? layerScope : scope, batch, steps, pass.rope(config, layer), pass.mask(config, layer),
                    cache);
            if (inference) {
                x.attach(scope);
                layerScope.close();
            }
        }
        return rmsNorm(x, weight("model.norm.weight", scope));
    }

    /** cos and sin [batch, 1, steps, rotary dims] of each position's angles, scaled by the attention factor. */
    private static NDArray[] rotation(NDArray positions, NDArray inverseFrequency, double factor, DataType type) {
        // Angles in float64: a float32 product loses ~1e-3 rad at positions in the tens of thousands.
        NDArray angles = positions.toType(DataType.FLOAT64, false).expandDims(-1).mul(inverseFrequency);
        NDArray both = NDArrays.concat(new NDList(angles, angles), -1).expandDims(1); // rotate_half layout
        NDArray cos = both.cos();
        NDArray sin = both.sin();
        if (factor != 1.0) {
            cos = cos.muli(factor);
            sin = sin.muli(factor);
        }
        return new NDArray[]{cos.toType(type, false), sin.toType(type, false)};
    }

    /** One decoder layer over x: the family's norms around attention and the MLP, each added to the residual. */
    private NDArray layer(int layer, NDArray x, NDManager scope, long batch, long steps, NDArray[] rope, NDArray mask,
                          KvCache cache) {
        String p = "model.layers." + layer + ".";
        Family.NormPlacement placement = family.normPlacement();
        NDArray attnIn = placement == Family.NormPlacement.POST ? x : norm(x, p + "input_layernorm.weight", scope);
        NDArray attended = attention(layer, attnIn, scope, batch, steps, rope, mask, cache);
        if (placement != Family.NormPlacement.PRE) {
            attended = norm(attended, p + "post_attention_layernorm.weight", scope);
        }
        x = x.add(attended);

        NDArray mlpIn = switch (placement) {
            case PRE -> norm(x, p + "post_attention_layernorm.weight", scope);
            case SANDWICH -> norm(x, p + "pre_feedforward_layernorm.weight", scope);
            case POST -> x;
        };
        NDArray mlp = mlp(mlpIn, p + "mlp.");
        if (placement != Family.NormPlacement.PRE) {
            mlp = norm(mlp, p + "post_feedforward_layernorm.weight", scope);
        }
        return x.add(mlp);
    }

    private NDArray attention(int layer, NDArray h, NDManager scope, long batch, long steps, NDArray[] rope, NDArray mask,
                              KvCache cache) {
        int heads = config.numHeads();
        int kvHeads = config.numKvHeads();
        int headDim = config.headDim();
        String p = "model.layers." + layer + ".self_attn.";
        NDList qkv = family.fusedProjections() ? project(h, p, qkvParts, "qkv_proj")
                : project(h, p, qkvParts, "q_proj", "k_proj", "v_proj");
        NDArray q = qkv.get(0);
        NDArray k = qkv.get(1);
        if (family.qkNorm() == Family.QkNorm.WHOLE) { // OLMo 2: over the whole projection, before the heads split
            q = norm(q, p + "q_norm.weight", scope);
            k = norm(k, p + "k_norm.weight", scope);
        }
        q = q.reshape(batch, steps, heads, headDim);
        k = k.reshape(batch, steps, kvHeads, headDim);
        if (family.qkNorm() == Family.QkNorm.PER_HEAD) { // Qwen3, Gemma 3: over each head, before the rotation
            q = norm(q, p + "q_norm.weight", scope);
            k = norm(k, p + "k_norm.weight", scope);
        }
        q = q.transpose(0, 2, 1, 3);
        k = k.transpose(0, 2, 1, 3);
        NDArray v = qkv.get(2).reshape(batch, steps, kvHeads, headDim).transpose(0, 2, 1, 3);
        if (rope != null) {
            q = rotate(q, rope[0], rope[1]);
            k = rotate(k, rope[0], rope[1]);
        }
        if (cache != null) {
            NDList kv = cache.append(layer, k, v);
            k = kv.get(0);
            v = kv.get(1);
        }
        if (kvHeads != heads) {
            // Query head h reads key/value head h / (heads / kvHeads), as in HF's repeat_kv.
            k = k.repeat(1, heads / kvHeads);
            v = v.repeat(1, heads / kvHeads);
        }
        NDArray keysT = k.transpose(0, 1, 3, 2);
        NDArray attended;
        if (attentionBlock <= 0 || steps <= attentionBlock) {
            attended = attend(q, keysT, v, mask);
        } else {
            // A block of queries at a time: [batch, heads, block, keys] scores, not [.., steps, keys].
            NDList parts = new NDList();
            boolean inference = !ai.djl.pytorch.jni.JniUtils.isGradMode();
            for (long from = 0; from < steps; from += attentionBlock) {
                NDIndex rows = new NDIndex().addAllDim(2).addSliceDim(from, Math.min(steps, from + attentionBlock));
                NDManager blockScope = inference ? q.getManager().newSubManager() : null;
                NDArray qb = q.get(rows);
                NDArray mb = mask == null ? null : mask.get(rows);
                if (inference) {
                    qb.attach(blockScope); // the block's scores land in its scope, closed behind it
                }
                NDArray out = attend(qb, keysT, v, mb);
                if (inference) {
                    out.attach(q.getManager());
                    blockScope.close();
                }
                parts.add(out);
            }
            attended = NDArrays.concat(parts, 2);
        }
        attended = attended.transpose(0, 2, 1, 3).reshape(batch, steps, (long) heads * headDim);
        return fused(attended, p, "o_proj");
    }

    /** softmax(cap(q kᵀ · scale) + mask) v for one block of queries. */
    private NDArray attend(NDArray q, NDArray keysT, NDArray v, NDArray mask) {
        NDArray scores = softcap(q.matMul(keysT).muli(config.queryScale()), config.attentionSoftcap());
        if (mask != null) {
            scores = scores.addi(mask);
        }
        return scores.softmax(-1).matMul(v);
    }

    /** down(act(gate) · up), act SiLU or Gemma's tanh-approximated GELU. */
    private NDArray mlp(NDArray m, String prefix) {
        NDList gateUp = family.fusedProjections() ? project(m, prefix, gateUpParts, "gate_up_proj")
                : project(m, prefix, gateUpParts, "gate_proj", "up_proj");
        NDArray gateIn = gateUp.get(0);
        NDArray gate = family.activation().equals("silu")
                ? gateIn.mul(Activation.sigmoid(gateIn)) // SiLU as x·σ(x): DJL's swish makes more passes over memory
                : geluTanh(gateIn);
        return fused(gate.mul(gateUp.get(1)), prefix, "down_proj");
    }

    /** GELU, tanh approximation (PyTorch's gelu(approximate="tanh")): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
    private static NDArray geluTanh(NDArray x) {
        // No in-place operations: pow's and tanh's backward passes read their outputs.
        NDArray inner = x.add(x.mul(x).mul(x).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
        return x.mul(0.5).mul(inner.tanh().add(1));
    }

    /** cap · tanh(x / cap); x itself when cap is 0. */
    private static NDArray softcap(NDArray x, double cap) {
        return cap > 0 ? x.div(cap).tanh().mul(cap) : x;
    }

    /** Positions 0..steps-1 for every row: the usual case of a right-padded batch without cache. */
    public static NDArray defaultPositions(NDManager manager, long batch, long steps) {
        return manager.arange(0, (int) steps, 1, DataType.INT64).expandDims(0).repeat(0, batch);
    }

    private NDArray param(String name) {
        return parameters.get(name);
    }

    /** A weight in the compute type: itself, or a converted copy in {@code scope}. */
    private NDArray weight(String name, NDManager scope) {
        NDArray w = parameters.get(name);
        if (w.getDataType() == precision.compute()) {
            return w;
        }
        // A trained float32 weight computing in float16 keeps its gradient through the cast.
        NDArray c = w.hasGradient() ? Differentiable.cast(w, precision.compute()) : w.toType(precision.compute(), true);
        c.attach(scope);
        return c;
    }

    private static NDArray inScope(NDArray a, NDManager scope) {
        a.attach(scope);
        return a;
    }

    private NDArray compute(NDArray a) {
        return Differentiable.cast(a, precision.compute());
    }

    /**
     * The named projections of h, one array each. Training stacks their weights for one GEMM (fewer,
     * larger matmuls run closer to the GEMM ceiling) and splits the output at {@code parts}; without
     * gradients and without an adapter (generation, scoring) it runs one GEMM per projection on the weights
     * as they are: stacking would copy every weight for every token generated, which costs more than the
     * GEMMs it merges when a step is one token per row.
     */
    private NDList project(NDArray h, String prefix, NDIndex[] parts, String... projections) {
        NDList out = new NDList();
        if (projections.length == parts.length && adapter == null && !ai.djl.pytorch.jni.JniUtils.isGradMode()) {
            for (String proj : projections) {
                out.add(fused(h, prefix, proj)); // one projection: its own weight (and bias), nothing stacked
            }
            return out;
        }
        NDArray all = fused(h, prefix, projections);
        for (NDIndex part : parts) {
            out.add(all.get(part));
        }
        return out;
    }

    /**
     * h times the named projections' weights stacked along their output axis (and biases, if any), plus the
     * adapter's output for the projections it adapts.
     */
    private NDArray fused(NDArray h, String prefix, String... projections) {
        NDList weights = new NDList();
        NDList biases = new NDList();
        for (String proj : projections) {
            weights.add(param(prefix + proj + ".weight"));
            NDArray bias = parameters.get(prefix + proj + ".bias");
            if (bias != null) {
                biases.add(bias);
            }
        }
        NDManager scope = h.getManager();
        NDArray out;
        if (projections.length == 1) {
            // The parameters themselves (converted in the step's scope when the compute type differs): never
            // NDArrays.concat of one array, whose duplicate() has no autograd history, nor the parameter moved.
            NDArray w = weight(prefix + projections[0] + ".weight", scope);
            out = biases.isEmpty() ? Linear.linear(h, w).singletonOrThrow()
                    : Linear.linear(h, w, weight(prefix + projections[0] + ".bias", scope)).singletonOrThrow();
        } else {
            // The stacked copies belong to h's scope (the step's), not to the model: a result lands in its
            // first operand's manager, so each is moved before it is converted.
            NDArray w = compute(inScope(NDArrays.concat(weights, 0), scope));
            if (biases.isEmpty()) {
                out = Linear.linear(h, w).singletonOrThrow();
            } else {
                NDArray b = compute(inScope(NDArrays.concat(biases, 0), scope));
                out = Linear.linear(h, w, b).singletonOrThrow();
            }
        }
        if (adapter == null || Arrays.stream(projections).noneMatch(proj -> adapter.adapts(prefix + proj))) {
            return out;
        }
        return out.add(adapted(h, prefix, projections, out.getShape()));
    }

    /** The adapter's outputs for the projections, side by side as in the fused output (zeros where none). */
    private NDArray adapted(NDArray h, String prefix, String[] projections, Shape outShape) {
        NDList parts = new NDList();
        for (String proj : projections) {
            String module = prefix + proj;
            if (adapter.adapts(module)) {
                parts.add(adapter.delta(module, h));
            } else {
                long[] dims = outShape.getShape().clone();
                dims[dims.length - 1] = config.shapeOf(module + ".weight")[0];
                parts.add(h.getManager().zeros(new Shape(dims), h.getDataType()));
            }
        }
        return Differentiable.concat(parts, -1);
    }

    /** RMSNorm with the named weight: x / rms(x) · w, or · (1 + w) in Gemma. */
    private NDArray norm(NDArray x, String weightName, NDManager scope) {
        return rmsNorm(x, weight(weightName, scope));
    }

    private NDArray rmsNorm(NDArray x, NDArray weight) {
        NDArray scale = family.unitOffsetNorm() ? weight.add(1) : weight;
        if (!Precision.isFull(x.getDataType())) {
            // In float16 x² overflows beyond |x| = 256, which real models' residual streams reach: normalise in float32.
            NDArray wide = Differentiable.cast(x, DataType.FLOAT32);
            NDArray variance = wide.square().mean(new int[]{-1}, true);
            return Differentiable.cast(wide.div(variance.addi(config.rmsNormEps()).sqrt()), x.getDataType()).mul(scale);
        }
        NDArray variance = x.square().mean(new int[]{-1}, true);
        return x.div(variance.addi(config.rmsNormEps()).sqrt()).muli(scale);
    }

    /** x·cos + rotate_half(x)·sin over the rotated dimensions; the rest (partial rotary) passes through. */
    private NDArray rotate(NDArray x, NDArray cos, NDArray sin) {
        boolean partial = config.rope().rotaryDim() < config.headDim();
        NDArray r = partial ? x.get(rotaryParts[0]) : x;
        NDArray first = r.get(halves[0]);
        NDArray second = r.get(halves[1]);
        NDArray rotated = NDArrays.concat(new NDList(second.neg(), first), -1);
        NDArray out = r.mul(cos).addi(rotated.muli(sin));
        return partial ? NDArrays.concat(new NDList(out, x.get(rotaryParts[1])), -1) : out;
    }

    /**
     * Additive mask [batch or 1, 1, steps, keys]: 0 where allowed, a large negative number elsewhere. Made on the
     * device from column numbers (a query's own and earlier ones; within {@code window} of it when one is given),
     * and the key mask's padding. Columns of one row are consecutive positions, so a window over columns is the
     * window over positions.
     */
    private static NDArray attentionMask(NDManager manager, long batch, long steps, long past, NDArray keyMask,
                                         DataType type, int window) {
        long keys = past + steps;
        boolean windowBites = window > 0 && keys > window;
        if (keyMask == null && steps == 1 && !windowBites) {
            return null; // one new token may attend to everything before it
        }
        NDArray query = manager.arange((int) past, (int) keys, 1, DataType.INT64).reshape(steps, 1);
        NDArray key = manager.arange(0, (int) keys, 1, DataType.INT64).reshape(1, keys);
        NDArray allowed = key.lte(query);
        if (windowBites) {
            allowed = allowed.logicalAnd(key.gt(query.sub(window)));
        }
        allowed = allowed.reshape(1, 1, steps, keys);
        if (keyMask != null) {
            allowed = allowed.logicalAnd(keyMask.gt(0.5f).reshape(batch, 1, 1, keys));
        }
        // Finite, so that a fully masked (padding) row gives a uniform softmax, not NaN; within float16's range.
        double blocked = type == DataType.FLOAT16 ? -6.0e4 : -1e9;
        return allowed.toType(type, false).sub(1).muli(-blocked);
    }

    @Override
    public void close() {
        manager.close();
    }
}
