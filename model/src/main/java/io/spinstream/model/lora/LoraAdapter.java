package io.spinstream.model.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.pytorch.jni.JniUtils;
import io.spinstream.model.LlamaConfig;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import io.spinstream.model.Differentiable;
import io.spinstream.model.checkpoint.Safetensors;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * LoRA matrices for a set of projections: W x + (alpha/r) · B A dropout(x), with A [r, in] and B [out, r]
 * in float32, named as PEFT names them. A fresh adapter starts as PEFT's does — A uniform in ±1/√in
 * (kaiming_uniform with a = √5), B zero — so it changes nothing until trained.
 */
public final class LoraAdapter implements AutoCloseable {
    public static final String CONFIG = "adapter_config.json";
    public static final String WEIGHTS = "adapter_model.safetensors";

    private final LoraConfig config;
    private final NDManager manager;
    private final Map<String, NDArray> tensors;

    private LoraAdapter(LoraConfig config, NDManager manager, Map<String, NDArray> tensors) {
        this.config = config;
        this.manager = manager;
        this.tensors = tensors;
    }

    /** A fresh float32 adapter for {@code model}; A is drawn from {@code seed}. */
    public static LoraAdapter init(LlamaConfig model, LoraConfig lora, NDManager parent, long seed) {
        return init(model, lora, parent, seed, DataType.FLOAT32);
    }

    /** As {@link #init(LlamaConfig, LoraConfig, NDManager, long)} in {@code type} (float64 for gradient checks). */
    public static LoraAdapter init(LlamaConfig model, LoraConfig lora, NDManager parent, long seed, DataType type) {
        lora = lora.forFamily(model.family());
        NDManager manager = parent.newSubManager();
        Random random = new Random(seed);
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        for (String module : lora.modules(model)) {
            long[] shape = model.shapeOf(module + ".weight"); // [out, in]
            int in = (int) shape[1];
            float[] a = new float[lora.rank() * in];
            double bound = 1.0 / Math.sqrt(in);
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
            }
            tensors.put(LoraConfig.tensorName(module, 'A'), manager.create(a, new Shape(lora.rank(), in)).toType(type, false));
            tensors.put(LoraConfig.tensorName(module, 'B'), manager.zeros(new Shape(shape[0], lora.rank()), type));
        }
        LoraAdapter adapter = new LoraAdapter(lora, manager, tensors);
        adapter.prepare();
        return adapter;
    }

    /** A PEFT adapter folder ({@code adapter_config.json}, {@code adapter_model.safetensors}) for {@code model}. */
    public static LoraAdapter read(Path dir, LlamaConfig model, NDManager parent) {
        try {
            return read(dir.resolve(CONFIG), dir.resolve(WEIGHTS), model, parent);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + dir.resolve(CONFIG), e);
        }
    }

    /** An adapter from its {@code adapter_config.json} and its weights file. */
    public static LoraAdapter read(Path configJson, Path weights, LlamaConfig model, NDManager parent)
            throws IOException {
        LoraConfig lora = LoraConfig.fromPeftJson(Files.readString(configJson));
        try (NDManager scratch = parent.newSubManager()) {
            return of(model, lora, parent, Safetensors.read(weights, scratch));
        }
    }

    /**
     * An adapter from PEFT's tensors ({@code adapter_model.safetensors} read), checked against the model:
     * every adapted projection has both matrices, of rank r and the projection's width; no other tensor.
     */
    public static LoraAdapter of(LlamaConfig model, LoraConfig lora, NDManager parent, Map<String, NDArray> peftTensors) {
        lora = lora.forFamily(model.family());
        Map<String, NDArray> byName = new LinkedHashMap<>(peftTensors);
        NDManager manager = parent.newSubManager();
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        try {
            for (String module : lora.modules(model)) {
                long[] shape = model.shapeOf(module + ".weight");
                take(byName, tensors, LoraConfig.tensorName(module, 'A'), new Shape(lora.rank(), shape[1]), manager);
                take(byName, tensors, LoraConfig.tensorName(module, 'B'), new Shape(shape[0], lora.rank()), manager);
            }
            if (!byName.isEmpty()) {
                throw new IllegalArgumentException("adapter holds tensors its config does not explain (not LoRA matrices of the"
                        + " target modules, or of layers the model does not have): " + byName.keySet().stream().limit(3).toList());
            }
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
        LoraAdapter adapter = new LoraAdapter(lora, manager, tensors);
        adapter.prepare();
        return adapter;
    }

    private static void take(Map<String, NDArray> from, Map<String, NDArray> to, String name, Shape expected, NDManager manager) {
        NDArray t = from.remove(name);
        if (t == null) {
            throw new IllegalArgumentException("adapter lacks tensor " + name);
        }
        if (!t.getShape().equals(expected)) {
            throw new IllegalArgumentException("adapter tensor " + name + " has shape " + t.getShape() + ", expected " + expected);
        }
        DataType type = t.getDataType() == DataType.FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32;
        // duplicate(), not toType(same type, copy): libtorch's to() returns the tensor itself when the type
        // matches, and a tensor read from a file may live in Java memory that goes with the reader's scope.
        NDArray copy = t.getDataType() == type ? t.duplicate() : t.toType(type, false);
        copy.attach(manager);
        to.put(name, copy);
    }

    private void prepare() {
        tensors.forEach((name, t) -> {
            t.setName(name);
            t.setRequiresGradient(true);
        });
    }

    public LoraConfig config() {
        return config;
    }

    /** The trained matrices by PEFT's names, in checkpoint order. */
    public Map<String, NDArray> parameters() {
        return Collections.unmodifiableMap(tensors);
    }

    public long parameterCount() {
        return tensors.values().stream().mapToLong(t -> t.getShape().size()).sum();
    }

    public boolean adapts(String module) {
        return tensors.containsKey(LoraConfig.tensorName(module, 'A'));
    }

    /**
     * The adapter's contribution to {@code module}'s output for input {@code h} [..., in], in h's type and
     * scope: scale · dropout(h) Aᵀ Bᵀ, computed in float32. Dropout acts only while gradients are recorded.
     */
    public NDArray delta(String module, NDArray h) {
        NDArray a = tensors.get(LoraConfig.tensorName(module, 'A'));
        NDArray b = tensors.get(LoraConfig.tensorName(module, 'B'));
        NDArray x = Differentiable.cast(h, a.getDataType());
        if (config.dropout() > 0 && JniUtils.isGradMode()) {
            x = Dropout.dropout(x, (float) config.dropout(), true).singletonOrThrow();
        }
        NDArray out = Linear.linear(Linear.linear(x, a).singletonOrThrow(), b).singletonOrThrow().muli(config.scale());
        return Differentiable.cast(out, h.getDataType());
    }

    /** scale · B A [out, in] for {@code module}, float32, in {@code scope}: what merging adds to its weight. */
    public NDArray weightDelta(String module, NDManager scope) {
        NDArray a = tensors.get(LoraConfig.tensorName(module, 'A'));
        NDArray b = tensors.get(LoraConfig.tensorName(module, 'B'));
        NDArray d = b.matMul(a).muli(config.scale());
        d.attach(scope);
        return d;
    }

    /** Modules adapted, as full names ({@code model.layers.0.self_attn.q_proj}). */
    public List<String> modules() {
        return tensors.keySet().stream().filter(n -> n.endsWith(".lora_A.weight"))
                .map(n -> n.substring("base_model.model.".length(), n.length() - ".lora_A.weight".length())).toList();
    }

    @Override
    public void close() {
        manager.close();
    }
}
