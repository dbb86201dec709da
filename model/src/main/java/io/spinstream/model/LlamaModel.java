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
    private final NDArray ropeCos;
    private final NDArray ropeSin;
    // Parsed once: an NDIndex from a string is parsed on every call, many times a layer a token.
    private final NDIndex[] qkvParts;
    private final NDIndex[] gateUpParts;
    private final NDIndex[] halves;
    private LoraAdapter adapter; // trained over the frozen base when set

    private LlamaModel(LlamaConfig config, NDManager manager, Map<String, NDArray> parameters, Precision precision) {
        long qWidth = (long) config.numHeads() * config.headDim();
        long kvWidth = (long) config.numKvHeads() * config.headDim();
        long inter = config.intermediateSize();
        this.qkvParts = new NDIndex[]{new NDIndex("..., :" + qWidth), new NDIndex("..., " + qWidth + ":" + (qWidth + kvWidth)),
                new NDIndex("..., " + (qWidth + kvWidth) + ":")};
        this.gateUpParts = new NDIndex[]{new NDIndex("..., :" + inter), new NDIndex("..., " + inter + ":")};
        long half = config.headDim() / 2;
        this.halves = new NDIndex[]{new NDIndex("..., :" + half), new NDIndex("..., " + half + ":")};
        this.config = config;
        this.manager = manager;
        this.parameters = parameters;
        this.precision = precision;
        NDArray[] tables = ropeTables(manager, config, precision.compute());
        this.ropeCos = tables[0];
        this.ropeSin = tables[1];
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
                    java.util.Arrays.fill(values, 1.0);
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

    private static NDArray[] ropeTables(NDManager manager, LlamaConfig config, DataType type) {
        int half = config.headDim() / 2;
        int positions = config.maxPositions();
        double[] cos = new double[positions * half * 2];
        double[] sin = new double[positions * half * 2];
        for (int pos = 0; pos < positions; pos++) {
            for (int i = 0; i < half; i++) {
                double invFreq = 1.0 / Math.pow(config.ropeTheta(), (2.0 * i) / config.headDim());
                double angle = pos * invFreq;
                // HF layout: the same frequencies for both halves of the head (rotate_half convention).
                int base = pos * half * 2;
                cos[base + i] = Math.cos(angle);
                cos[base + half + i] = Math.cos(angle);
                sin[base + i] = Math.sin(angle);
                sin[base + half + i] = Math.sin(angle);
            }
        }
        Shape shape = new Shape(positions, half * 2);
        NDArray c = manager.create(cos, shape).toType(type, false);
        NDArray s = manager.create(sin, shape).toType(type, false);
        return new NDArray[]{c, s};
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
        String head = config.tieWordEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight";
        return Linear.linear(x, weight(head, x.getManager())).singletonOrThrow();
    }

    /**
     * Logits at the last input position only [batch, vocab]: what generation reads. A prompt's prefill through
     * {@link #forward} would make [batch, prompt, vocab] logits, gigabytes for a large vocabulary, to use one row.
     */
    public NDArray lastLogits(NDArray inputIds, NDArray positions, NDArray keyMask, KvCache cache) {
        NDArray x = hidden(inputIds, positions, keyMask, cache);
        long steps = x.getShape().get(1);
        NDArray last = x.get(new NDIndex().addAllDim().addIndices(steps - 1)); // [batch, hidden]
        String head = config.tieWordEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight";
        return Linear.linear(last, weight(head, x.getManager())).singletonOrThrow();
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
        NDArray x = compute(Embedding.embedding(inputIds, param("model.embed_tokens.weight"), SparseFormat.DENSE)
                .singletonOrThrow());
        NDArray cos = Embedding.embedding(positions, ropeCos, SparseFormat.DENSE).singletonOrThrow().expandDims(1);
        NDArray sin = Embedding.embedding(positions, ropeSin, SparseFormat.DENSE).singletonOrThrow().expandDims(1);
        NDArray mask = attentionMask(scope, batch, steps, past, keyMask, x.getDataType());

        // Without gradients nothing needs a layer's intermediates once its output exists: each layer works in
        // a scope of its own, closed behind it, so a pass holds one layer's activations rather than all of them
        // (a large batch scored at once held gigabytes, and paid for them in page faults).
        boolean inference = !ai.djl.pytorch.jni.JniUtils.isGradMode();
        for (int layer = 0; layer < config.numLayers(); layer++) {
            NDManager layerScope = inference ? scope.newSubManager() : null;
            if (inference) {
                x.attach(layerScope); // results land in their first operand's manager
            }
            x = layer(layer, x, inference ? layerScope : scope, batch, steps, cos, sin, mask, cache);
            if (inference) {
                x.attach(scope);
                layerScope.close();
            }
        }
        return rmsNorm(x, weight("model.norm.weight", scope));
    }

    /** One decoder layer over x. */
    private NDArray layer(int layer, NDArray x, NDManager scope, long batch, long steps, NDArray cos, NDArray sin, NDArray mask,
                          KvCache cache) {
        int heads = config.numHeads();
        int kvHeads = config.numKvHeads();
        int headDim = config.headDim();
        double scale = 1.0 / Math.sqrt(headDim);
        String p = "model.layers." + layer + ".";
        NDArray h = rmsNorm(x, weight(p + "input_layernorm.weight", scope));
        NDList qkv = project(h, p + "self_attn.", qkvParts, "q_proj", "k_proj", "v_proj");
        NDArray q = qkv.get(0).reshape(batch, steps, heads, headDim).transpose(0, 2, 1, 3);
        NDArray k = qkv.get(1).reshape(batch, steps, kvHeads, headDim).transpose(0, 2, 1, 3);
        NDArray v = qkv.get(2).reshape(batch, steps, kvHeads, headDim).transpose(0, 2, 1, 3);
        q = rotate(q, cos, sin, halves);
        k = rotate(k, cos, sin, halves);
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
        NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).muli(scale);
        if (mask != null) {
            scores = scores.addi(mask);
        }
        NDArray attended = scores.softmax(-1).matMul(v).transpose(0, 2, 1, 3).reshape(batch, steps, (long) heads * headDim);
        x = x.add(fused(attended, p + "self_attn.", "o_proj"));

        NDArray m = rmsNorm(x, weight(p + "post_attention_layernorm.weight", scope));
        NDList gateUp = project(m, p + "mlp.", gateUpParts, "gate_proj", "up_proj");
        NDArray gateIn = gateUp.get(0);
        // SiLU as x·σ(x): DJL's swish(x, 1) computes the same with more passes over memory.
        NDArray gate = gateIn.mul(Activation.sigmoid(gateIn));
        NDArray up = gateUp.get(1);
        x = x.add(fused(gate.mul(up), p + "mlp.", "down_proj"));
        return x;
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
        NDArray c = w.toType(precision.compute(), true);
        c.attach(scope);
        return c;
    }

    private static NDArray inScope(NDArray a, NDManager scope) {
        a.attach(scope);
        return a;
    }

    private NDArray compute(NDArray a) {
        return a.getDataType() == precision.compute() ? a : a.toType(precision.compute(), false);
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
        if (adapter == null && !ai.djl.pytorch.jni.JniUtils.isGradMode()) {
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
        if (adapter == null || java.util.Arrays.stream(projections).noneMatch(proj -> adapter.adapts(prefix + proj))) {
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

    private NDArray rmsNorm(NDArray x, NDArray weight) {
        if (!Precision.isFull(x.getDataType())) {
            // In float16 x² overflows beyond |x| = 256, which real models' residual streams reach: normalise in float32.
            NDArray wide = x.toType(DataType.FLOAT32, false);
            NDArray variance = wide.square().mean(new int[]{-1}, true);
            return wide.div(variance.addi(config.rmsNormEps()).sqrt()).toType(x.getDataType(), false).muli(weight);
        }
        NDArray variance = x.square().mean(new int[]{-1}, true);
        return x.div(variance.addi(config.rmsNormEps()).sqrt()).muli(weight);
    }

    private static NDArray rotate(NDArray x, NDArray cos, NDArray sin, NDIndex[] halves) {
        NDArray first = x.get(halves[0]);
        NDArray second = x.get(halves[1]);
        NDArray rotated = NDArrays.concat(new NDList(second.neg(), first), -1);
        return x.mul(cos).addi(rotated.muli(sin));
    }

    /** Additive mask [batch or 1, 1, steps, keys]: 0 where allowed, a large negative number elsewhere. */
    private static NDArray attentionMask(NDManager manager, long batch, long steps, long past, NDArray keyMask,
                                         DataType type) {
        long keys = past + steps;
        if (keyMask == null && steps == 1) {
            return null; // one new token may attend to everything before it
        }
        if (keyMask == null) {
            batch = 1; // the causal part alone is the same for every row: broadcast it
        }
        float[] allowedKey = keyMask == null ? null : keyMask.toType(DataType.FLOAT32, false).toFloatArray();
        float[] mask = new float[(int) (batch * steps * keys)];
        int i = 0;
        for (long b = 0; b < batch; b++) {
            for (long s = 0; s < steps; s++) {
                long query = past + s;
                for (long k = 0; k < keys; k++) {
                    boolean allowed = k <= query && (allowedKey == null || allowedKey[(int) (b * keys + k)] > 0.5f);
                    // Finite, so that a fully masked (padding) row gives a uniform softmax, not NaN.
                    mask[i++] = allowed ? 0f : -1e9f;
                }
            }
        }
        return manager.create(mask, new Shape(batch, 1, steps, keys)).toType(type, false);
    }

    @Override
    public void close() {
        manager.close();
    }
}
