package io.spinstream.model.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.NoGrad;
import io.spinstream.model.Precision;
import io.spinstream.model.TokenBatch;
import io.spinstream.model.checkpoint.CheckpointException;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.checkpoint.LoadedCheckpoint;
import io.spinstream.model.checkpoint.Safetensors;
import io.spinstream.model.objective.Sft;
import io.spinstream.model.objective.Spin;
import io.spinstream.model.testing.HfFolders;
import io.spinstream.model.train.AdamW;
import io.spinstream.model.train.LearningRateSchedule;
import io.spinstream.model.train.PreferenceBatch;
import io.spinstream.model.train.TrainStep;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static io.spinstream.model.testing.FiniteDifferences.lossWith;
import static org.assertj.core.api.Assertions.within;
import java.util.Arrays;

class LoraTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final LlamaConfig TINY = LlamaConfig.tiny(40, 32, 2, 4, 2, 32);
    private static final long[][] IDS = {{3, 7, 9, 11, 5, 6}, {4, 4, 8, 12, 30, 2}};

    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    private float[] logits(LlamaModel model) {
        try (NoGrad ignored = NoGrad.enter(); NDManager scope = manager.newSubManager()) {
            NDArray ids = scope.create(IDS);
            return model.forward(ids, LlamaModel.defaultPositions(scope, IDS.length, IDS[0].length), null, null)
                    .toType(DataType.FLOAT32, false).toFloatArray();
        }
    }

    /** B drawn at random too, so the adapter does something. */
    private static void randomB(LoraAdapter adapter, long seed, double scale) {
        Random random = new Random(seed);
        adapter.parameters().forEach((name, t) -> {
            if (name.endsWith("lora_B.weight")) {
                double[] v = new double[(int) t.size()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = random.nextGaussian() * scale;
                }
                t.set(manager(t).create(v, t.getShape()).toType(t.getDataType(), false).toByteBuffer());
            }
        });
    }

    private static NDManager manager(NDArray t) {
        return t.getManager();
    }

    /** The model's weights rounded to float16. */
    private static Map<String, NDArray> halved(LlamaModel model, NDManager scratch) {
        Map<String, NDArray> half = new LinkedHashMap<>();
        model.parameters().forEach((n, p) -> {
            NDArray h = p.toType(DataType.FLOAT16, true);
            h.attach(scratch);
            half.put(n, h);
        });
        return half;
    }

    /** Float16 weights as the float32 values they stand for. */
    private static Map<String, NDArray> widened(Map<String, NDArray> half, NDManager scratch) {
        Map<String, NDArray> wide = new LinkedHashMap<>();
        half.forEach((n, h) -> {
            NDArray w = h.toType(DataType.FLOAT32, true);
            w.attach(scratch);
            wide.put(n, w);
        });
        return wide;
    }

    private static void assertClose(float[] actual, float[] expected, double tolerance) {
        assertThat(actual).hasSameSizeAs(expected);
        double worst = 0;
        for (int i = 0; i < actual.length; i++) {
            worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
        }
        assertThat(worst).as("largest logit difference").isLessThan(tolerance);
    }

    @Test
    void aFreshAdapterLeavesTheLogitsExactlyAsTheBase() {
        try (LlamaModel model = LlamaModel.random(TINY, manager, 1, DataType.FLOAT32)) {
            float[] base = logits(model);
            LoraAdapter adapter = LoraAdapter.init(TINY, LoraConfig.of(4, 8), manager, 2);
            model.attach(adapter);
            assertThat(adapter.parameterCount()).isPositive();
            assertThat(logits(model)).containsExactly(base);
            adapter.close();
        }
    }

    @Test
    void gradientsThroughTheAdapterMatchFiniteDifferences() {
        // float64, GQA, q/k/v bias: every adapted projection lies on the loss's path.
        LlamaConfig config = LlamaConfig.tiny(12, 16, 2, 4, 2, 16).withArchitecture("Qwen2ForCausalLM", true);
        try (LlamaModel model = LlamaModel.random(config, manager, 11, DataType.FLOAT64);
             LoraAdapter adapter = LoraAdapter.init(config, LoraConfig.of(2, 4), manager, 3, DataType.FLOAT64)) {
            randomB(adapter, 4, 0.3);
            model.attach(adapter);
            PreferenceBatch batch = new PreferenceBatch(
                    List.of(new TokenBatch.Example(new int[]{3, 4}, new int[]{5, 6, 2}), new TokenBatch.Example(new int[]{7}, new int[]{8, 2})),
                    List.of(new TokenBatch.Example(new int[]{3, 4}, new int[]{9, 2}), new TokenBatch.Example(new int[]{7}, new int[]{8, 10, 2})),
                    new double[]{-6, -5}, new double[]{-4, -7});
            TrainStep step = new TrainStep(model, new Spin(1.0, Spin.Loss.LOGISTIC, 0.5), new AdamW(0.9, 0.999, 1e-8, 0),
                    LearningRateSchedule.constant(1e-3), 0);
            Map<String, double[]> analytic = new HashMap<>();
            step.gradients(List.of(batch), analytic);
            // Only the adapter is trained: the base gets no gradient at all.
            assertThat(analytic.keySet()).isEqualTo(adapter.parameters().keySet());

            Random random = new Random(5);
            double h = 1e-6;
            int checked = 0;
            for (String name : adapter.parameters().keySet()) {
                NDArray p = adapter.parameters().get(name);
                int i = random.nextInt((int) p.size());
                double numeric = (lossWith(() -> step.loss(List.of(batch)), p, i, h)
                        - lossWith(() -> step.loss(List.of(batch)), p, i, -h)) / (2 * h);
                assertThat(analytic.get(name)[i]).as("%s[%d]", name, i).isCloseTo(numeric, within(1e-6 + 1e-4 * Math.abs(numeric)));
                checked++;
            }
            assertThat(checked).isEqualTo(2 * 7 * 2);
        }
    }


    @Test
    void mergingGivesTheLogitsOfTheAttachedAdapter() {
        try (LlamaModel attached = LlamaModel.random(TINY, manager, 1, DataType.FLOAT32);
             LlamaModel merged = LlamaModel.random(TINY, manager, 1, DataType.FLOAT32);
             LoraAdapter adapter = LoraAdapter.init(TINY, new LoraConfig(4, 8, 0, List.of("q_proj", "v_proj", "down_proj"), false),
                     manager, 2)) {
            float[] base = logits(merged);
            randomB(adapter, 3, 0.2);
            attached.attach(adapter);
            merged.merge(adapter);
            float[] a = logits(attached);
            assertClose(logits(merged), a, 1e-4);
            assertThat(maxDiff(a, base)).as("the adapter changes the logits").isGreaterThan(1e-2);
        }
    }

    private static double maxDiff(float[] a, float[] b) {
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        return worst;
    }

    @Test
    void aCandidateIsSavedAsAPeftAdapterAndLoadsMergedOrForTraining(@TempDir Path dir) throws IOException {
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        float[] attachedLogits;
        try (LlamaModel model = LlamaModel.random(TINY, manager, 1, DataType.FLOAT32)) {
            CheckpointMetadata base = store.save(model, null, CheckpointMetadata.of("base", null, 0, 0, Map.of(), Map.of()));
            LoraAdapter adapter = LoraAdapter.init(TINY, LoraConfig.of(4, 8), manager, 2);
            randomB(adapter, 3, 0.2);
            model.attach(adapter);
            attachedLogits = logits(model);
            Map<String, NDArray> state = Map.of("optimizer.steps", manager.create(new double[]{3}));
            store.save(model, null, CheckpointMetadata.of("cand", "base", 1, 3, Map.of(), Map.of()).adapterOver(base), state);
            adapter.close();
        }
        Path cand = store.directoryOf("cand");
        assertThat(cand.resolve("adapter_config.json")).exists();
        assertThat(cand.resolve("adapter_model.safetensors")).exists();
        assertThat(cand.resolve("model.safetensors")).doesNotExist();
        JsonNode meta = JSON.readTree(cand.resolve("spinstream.json").toFile());
        assertThat(meta.path("adapter").asText()).isEqualTo("lora");
        assertThat(meta.path("base_id").asText()).isEqualTo("base");
        assertThat(meta.path("base_sha256").asText()).isEqualTo(store.metadata("base").orElseThrow().sha256());
        JsonNode peft = JSON.readTree(cand.resolve("adapter_config.json").toFile());
        assertThat(peft.path("peft_type").asText()).isEqualTo("LORA");
        assertThat(peft.path("r").asInt()).isEqualTo(4);
        try (NDManager scratch = manager.newSubManager()) {
            assertThat(Safetensors.read(cand.resolve("adapter_model.safetensors"), scratch).keySet())
                    .contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
                            "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight")
                    .hasSize(2 * 7 * 2);
        }
        // A candidate is a few hundred KB here, not the whole model.
        assertThat(Files.size(cand.resolve("adapter_model.safetensors")))
                .isLessThan(Files.size(store.directoryOf("base").resolve("model.safetensors")) / 2);

        try (LoadedCheckpoint merged = store.load("cand", manager)) {
            assertThat(merged.model().adapter()).isNull();
            assertClose(logits(merged.model()), attachedLogits, 1e-4);
        }
        try (LoadedCheckpoint training = CheckpointStore.loadForTraining(cand, manager, Precision.FLOAT32)) {
            assertThat(training.model().adapter()).isNotNull();
            assertThat(training.model().trainableParameters().keySet()).allMatch(n -> n.startsWith("base_model.model."));
            assertThat(logits(training.model())).containsExactly(attachedLogits);
            assertThat(training.trainingState(manager)).containsKey("optimizer.steps");
            training.model().adapter().close();
        }

        Path mergedExport = store.exportMerged("cand", dir.resolve("merged"));
        try (LlamaModel reloaded = CheckpointStore.importHuggingFace(mergedExport, manager)) {
            assertClose(logits(reloaded), attachedLogits, 1e-4);
        }
        Path adapterExport = store.exportHuggingFace("cand", dir.resolve("adapter"));
        assertThat(adapterExport.resolve("adapter_config.json")).exists();
        assertThat(adapterExport.resolve("adapter_model.safetensors")).hasSameBinaryContentAs(cand.resolve("adapter_model.safetensors"));
        assertThat(adapterExport.resolve("model.safetensors")).doesNotExist();
    }

    @Test
    void loadedAdaptersAndMergedWeightsSurviveGarbageCollection(@TempDir Path dir) throws Exception {
        // A tensor read from a file may live in Java memory owned by the reader's array; a "copy" that is
        // really the same tensor dangles once that array is collected (seen as garbage weights after a GC).
        CheckpointStore store = new CheckpointStore(dir);
        float[] expected;
        try (LlamaModel model = LlamaModel.random(TINY, manager, 1, DataType.FLOAT32)) {
            CheckpointMetadata base = store.save(model, null, CheckpointMetadata.of("base", null, 0, 0, Map.of(), Map.of()));
            try (LoraAdapter adapter = LoraAdapter.init(TINY, LoraConfig.of(4, 8), manager, 2)) {
                randomB(adapter, 3, 0.2);
                model.attach(adapter);
                expected = logits(model);
                store.save(model, null, CheckpointMetadata.of("cand", "base", 1, 1, Map.of(), Map.of()).adapterOver(base));
            }
        }
        try (LoadedCheckpoint merged = store.load("cand", manager);
             LoadedCheckpoint training = CheckpointStore.loadForTraining(store.directoryOf("cand"), manager, Precision.FLOAT32)) {
            for (int i = 0; i < 3; i++) {
                byte[][] garbage = new byte[64][];
                for (int j = 0; j < garbage.length; j++) {
                    garbage[j] = new byte[1 << 20];
                }
                System.gc();
                Thread.sleep(20);
            }
            assertClose(logits(merged.model()), expected, 1e-4);
            assertClose(logits(training.model()), expected, 1e-4);
            training.model().adapter().close();
        }
    }

    @Test
    void anAdapterOverAnAdapterMergesTheWholeLineageAndABaseThatChangedIsRefused(@TempDir Path dir) throws IOException {
        CheckpointStore store = new CheckpointStore(dir);
        float[] expected;
        try (LlamaModel model = LlamaModel.random(TINY, manager, 1, DataType.FLOAT32);
             LlamaModel reference = LlamaModel.random(TINY, manager, 1, DataType.FLOAT32)) {
            CheckpointMetadata base = store.save(model, null, CheckpointMetadata.of("base", null, 0, 0, Map.of(), Map.of()));
            LoraAdapter first = LoraAdapter.init(TINY, LoraConfig.of(2, 4), manager, 2);
            randomB(first, 3, 0.2);
            model.attach(first);
            CheckpointMetadata r1 = store.save(model, null, CheckpointMetadata.of("r1", "base", 1, 1, Map.of(), Map.of()).adapterOver(base));
            reference.merge(first);
            try (LoadedCheckpoint opponent = store.load("r1", manager)) {
                LoraAdapter second = LoraAdapter.init(TINY, LoraConfig.of(2, 4), manager, 5);
                randomB(second, 6, 0.2);
                opponent.model().attach(second);
                store.save(opponent.model(), null, CheckpointMetadata.of("r2", "r1", 2, 1, Map.of(), Map.of()).adapterOver(r1));
                reference.merge(second);
                second.close();
            }
            first.close();
            expected = logits(reference);
        }
        try (LoadedCheckpoint r2 = store.load("r2", manager)) {
            assertClose(logits(r2.model()), expected, 1e-4);
        }
        // A generator holding r1 takes r2 by merging the adapter alone.
        try (LoadedCheckpoint r1 = store.load("r1", manager);
             LoadedCheckpoint r2 = CheckpointStore.loadOnto(store.directoryOf("r2"), r1).orElseThrow()) {
            assertThat(r2.model()).isSameAs(r1.model());
            assertClose(logits(r2.model()), expected, 1e-4);
            assertThat(CheckpointStore.loadOnto(store.directoryOf("base"), r2)).isEmpty();
        }

        Path meta = store.directoryOf("r2").resolve("spinstream.json");
        Files.writeString(meta, Files.readString(meta).replace(store.metadata("r1").orElseThrow().sha256(), "0".repeat(64)));
        assertThatThrownBy(() -> store.load("r2", manager)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("its base r1 has sha256").hasMessageContaining("trained on " + "0".repeat(64));
    }

    @Test
    void aPeftAdapterFolderWrittenByIndependentCodeLoads(@TempDir Path dir) throws IOException {
        HfFolders.Spec spec = new HfFolders.Spec("LlamaForCausalLM", 264, 32, 2, 4, 2, "F32", 1, null, 7);
        Path baseDir = dir.resolve("base");
        Map<String, float[]> weights = HfFolders.write(baseDir, spec);
        int rank = 2;
        double alpha = 6;
        Path adapterDir = dir.resolve("adapter");
        Files.createDirectories(adapterDir);
        Files.writeString(adapterDir.resolve("adapter_config.json"), """
                {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 2, "lora_alpha": 6, "lora_dropout": 0.1,
                 "target_modules": ["q_proj", "v_proj"], "bias": "none", "fan_in_fan_out": false,
                 "base_model_name_or_path": "base", "modules_to_save": null, "use_rslora": false, "use_dora": false}
                """);
        Random random = new Random(9);
        List<String> names = new ArrayList<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        Map<String, float[]> tensors = new LinkedHashMap<>();
        Map<String, float[]> merged = new LinkedHashMap<>(weights);
        for (int layer = 0; layer < spec.layers(); layer++) {
            for (String proj : List.of("q_proj", "v_proj")) {
                String module = "model.layers." + layer + ".self_attn." + proj;
                int out = proj.equals("q_proj") ? 32 : 16;
                int in = 32;
                float[] a = new float[rank * in];
                float[] b = new float[out * rank];
                for (int i = 0; i < a.length; i++) {
                    a[i] = (float) random.nextGaussian() * 0.3f;
                }
                for (int i = 0; i < b.length; i++) {
                    b[i] = (float) random.nextGaussian() * 0.3f;
                }
                String an = "base_model.model." + module + ".lora_A.weight";
                String bn = "base_model.model." + module + ".lora_B.weight";
                names.add(an);
                names.add(bn);
                shapes.put(an, new long[]{rank, in});
                shapes.put(bn, new long[]{out, rank});
                tensors.put(an, a);
                tensors.put(bn, b);
                // W' = W + (alpha / r) B A, by hand.
                float[] w = weights.get(module + ".weight").clone();
                for (int o = 0; o < out; o++) {
                    for (int i = 0; i < in; i++) {
                        double d = 0;
                        for (int k = 0; k < rank; k++) {
                            d += (double) b[o * rank + k] * a[k * in + i];
                        }
                        w[o * in + i] += (float) (alpha / rank * d);
                    }
                }
                merged.put(module + ".weight", w);
            }
        }
        HfFolders.writeSafetensors(adapterDir.resolve("adapter_model.safetensors"), names, shapes, tensors, "F32");
        Path mergedDir = dir.resolve("merged");
        HfFolders.write(mergedDir, spec);
        Map<String, long[]> baseShapes = new LinkedHashMap<>();
        try (NDManager scratch = manager.newSubManager()) {
            Safetensors.read(baseDir.resolve("model.safetensors"), scratch).forEach((n, t) -> baseShapes.put(n, t.getShape().getShape()));
        }
        HfFolders.writeSafetensors(mergedDir.resolve("model.safetensors"), new ArrayList<>(baseShapes.keySet()), baseShapes, merged, "F32");

        try (LlamaModel model = CheckpointStore.importHuggingFace(baseDir, manager);
             LlamaModel expected = CheckpointStore.importHuggingFace(mergedDir, manager);
             LoraAdapter adapter = LoraAdapter.read(adapterDir, model.config(), manager)) {
            assertThat(adapter.config()).isEqualTo(new LoraConfig(2, 6, 0.1, List.of("q_proj", "v_proj"), false));
            assertThat(adapter.modules()).hasSize(4);
            model.attach(adapter);
            assertClose(logits(model), logits(expected), 1e-4);
        }
    }

    @Test
    void trainingTheAdapterLowersTheLossAndNeverTouchesTheBase() {
        try (LlamaModel model = LlamaModel.random(TINY, manager, 1, DataType.FLOAT32);
             LoraAdapter adapter = LoraAdapter.init(TINY, new LoraConfig(4, 8, 0.05, LoraConfig.PROJECTIONS, false), manager, 2)) {
            // A frozen head of N(0, 0.02) could not move the logits far whatever the adapters do: a wider one can.
            model.parameters().get("lm_head.weight").muli(50);
            Map<String, float[]> before = new HashMap<>();
            model.parameters().forEach((n, p) -> before.put(n, p.toFloatArray()));
            model.attach(adapter);
            PreferenceBatch batch = PreferenceBatch.sft(List.of(new TokenBatch.Example(new int[]{5, 6}, new int[]{10, 11, 12, 2}),
                    new TokenBatch.Example(new int[]{8}, new int[]{13, 14, 2})));
            try (TrainStep step = new TrainStep(model, new Sft(), new AdamW(0.9, 0.999, 1e-8, 0), LearningRateSchedule.constant(1e-2), 1)) {
                double first = step.loss(List.of(batch));
                for (int i = 0; i < 60; i++) {
                    step.step(List.of(batch));
                }
                double last = step.loss(List.of(batch));
                assertThat(last).isLessThan(first * 0.5);
                assertThat(step.state(manager).keySet()).anyMatch(k -> k.startsWith("base_model.model.") && k.endsWith("#0"));
            }
            model.parameters().forEach((n, p) -> assertThat(p.toFloatArray()).as(n).containsExactly(before.get(n)));
        }
    }

    @Test
    void float16WeightsComputeAsTheirFloat32Values() {
        try (LlamaModel f32 = LlamaModel.random(TINY, manager, 1, DataType.FLOAT32);
             NDManager scratch = manager.newSubManager()) {
            f32.parameters().get("lm_head.weight").muli(50); // a head the adapters can steer (see above)
            Map<String, NDArray> half = halved(f32, scratch);
            Map<String, NDArray> widened = widened(half, scratch);
            try (LlamaModel bf16 = LlamaModel.of(TINY, manager, half, new Precision(DataType.FLOAT16, DataType.FLOAT32));
                 LlamaModel reference = LlamaModel.of(TINY, manager, widened)) {
                assertThat(bf16.parameters().values()).allMatch(p -> p.getDataType() == DataType.FLOAT16);
                assertClose(logits(bf16), logits(reference), 1e-5);
                try (LlamaModel f16 = LlamaModel.of(TINY, manager, half, new Precision(DataType.FLOAT16, DataType.FLOAT16))) {
                    // Computing in float16 rounds every activation: close, not equal.
                    assertClose(logits(f16), logits(reference), 5e-2);
                }
                assertThatThrownBy(() -> new TrainStep(bf16, new Sft(), new AdamW(0.9, 0.999, 1e-8, 0),
                        LearningRateSchedule.constant(1e-2), 1)).hasMessageContaining("LoRA adapter");
                try (LoraAdapter adapter = LoraAdapter.init(TINY, LoraConfig.of(4, 8), manager, 2)) {
                    bf16.attach(adapter);
                    PreferenceBatch batch = PreferenceBatch.sft(List.of(new TokenBatch.Example(new int[]{5, 6}, new int[]{10, 11, 2})));
                    try (TrainStep step = new TrainStep(bf16, new Sft(), new AdamW(0.9, 0.999, 1e-8, 0),
                            LearningRateSchedule.constant(1e-2), 1)) {
                        double first = step.loss(List.of(batch));
                        for (int i = 0; i < 40; i++) {
                            assertThat(step.step(List.of(batch)).skipped()).isFalse();
                        }
                        assertThat(step.loss(List.of(batch))).isLessThan(first * 0.7);
                    }
                }
            }
        }
    }

    /**
     * LoRA over a float16 base computing in float16 (the GPU default): every cast on the gradient path keeps the
     * graph, the adapter's gradients match float32 compute within float16's precision, and training lowers the loss.
     */
    @Test
    void loraTrainsWithFloat16ComputeAndItsGradientsMatchFloat32() {
        try (LlamaModel f32 = LlamaModel.random(TINY, manager, 1, DataType.FLOAT32);
             NDManager scratch = manager.newSubManager()) {
            f32.parameters().get("lm_head.weight").muli(50);
            Map<String, NDArray> half = halved(f32, scratch);
            Map<String, NDArray> widened = widened(half, scratch);
            PreferenceBatch batch = PreferenceBatch.sft(List.of(new TokenBatch.Example(new int[]{5, 6}, new int[]{10, 11, 2}),
                    new TokenBatch.Example(new int[]{8}, new int[]{13, 14, 15, 2})));
            Map<String, double[]> g16 = new HashMap<>();
            Map<String, double[]> g32 = new HashMap<>();
            try (LlamaModel f16 = LlamaModel.of(TINY, manager, half, new Precision(DataType.FLOAT16, DataType.FLOAT16));
                 LlamaModel reference = LlamaModel.of(TINY, manager, widened);
                 LoraAdapter a16 = LoraAdapter.init(TINY, LoraConfig.of(4, 8), manager, 2);
                 LoraAdapter a32 = LoraAdapter.init(TINY, LoraConfig.of(4, 8), manager, 2)) {
                randomB(a16, 9, 0.05); // non-zero B, so that A's gradients are not zero
                randomB(a32, 9, 0.05);
                f16.attach(a16);
                reference.attach(a32);
                try (TrainStep s16 = new TrainStep(f16, new Sft(), new AdamW(0.9, 0.999, 1e-8, 0), LearningRateSchedule.constant(1e-2), 1);
                     TrainStep s32 = new TrainStep(reference, new Sft(), new AdamW(0.9, 0.999, 1e-8, 0),
                             LearningRateSchedule.constant(1e-2), 1)) {
                    s16.gradients(List.of(batch), g16);
                    s32.gradients(List.of(batch), g32);
                    assertThat(g16.keySet()).isEqualTo(g32.keySet()).isNotEmpty();
                    double largest = g32.values().stream().flatMapToDouble(Arrays::stream).map(Math::abs).max().orElseThrow();
                    assertThat(largest).isPositive();
                    for (String name : g32.keySet()) {
                        double[] a = g16.get(name);
                        double[] b = g32.get(name);
                        for (int i = 0; i < b.length; i++) {
                            assertThat(a[i]).as("%s[%d]", name, i).isCloseTo(b[i], within(2e-2 * largest));
                        }
                    }
                    double first = s16.loss(List.of(batch));
                    for (int i = 0; i < 30; i++) {
                        assertThat(s16.step(List.of(batch)).skipped()).isFalse();
                    }
                    assertThat(s16.loss(List.of(batch))).isLessThan(first * 0.7);
                }
            }
        }
    }

    @Test
    void peftConfigsThatCannotBeAppliedExactlyAreRefusedByName() {
        LoraConfig c = new LoraConfig(8, 16, 0.05, List.of("q_proj", "v_proj"), true);
        assertThat(LoraConfig.fromPeftJson(c.toPeftJson("base-1"))).isEqualTo(c);
        assertThat(c.scale()).isCloseTo(16 / Math.sqrt(8), within(1e-12));
        assertThat(LoraConfig.of(8, 16).scale()).isEqualTo(2.0);
        assertThatThrownBy(() -> LoraConfig.fromPeftJson("{\"peft_type\":\"LORA\",\"r\":8,\"lora_alpha\":16,\"use_dora\":true,"
                + "\"target_modules\":[\"q_proj\"]}")).hasMessageContaining("use_dora");
        assertThatThrownBy(() -> LoraConfig.fromPeftJson("{\"peft_type\":\"IA3\"}")).hasMessageContaining("only LORA");
        assertThatThrownBy(() -> LoraConfig.fromPeftJson("{\"peft_type\":\"LORA\",\"r\":8,\"lora_alpha\":16,"
                + "\"target_modules\":[\"lm_head\"]}")).hasMessageContaining("lm_head");
        assertThatThrownBy(() -> new LoraConfig(0, 16, 0, LoraConfig.PROJECTIONS, false)).hasMessageContaining("rank");
    }

    @Test
    void anAdapterWithAWrongShapeIsRefused() {
        try (NDManager scratch = manager.newSubManager()) {
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            LoraConfig lora = new LoraConfig(2, 4, 0, List.of("q_proj"), false);
            for (String m : lora.modules(TINY)) {
                tensors.put(LoraConfig.tensorName(m, 'A'), scratch.zeros(new Shape(2, 32)));
                tensors.put(LoraConfig.tensorName(m, 'B'), scratch.zeros(new Shape(31, 2)));
            }
            assertThatThrownBy(() -> LoraAdapter.of(TINY, lora, manager, tensors)).hasMessageContaining("has shape (31, 2), expected (32, 2)");
        }
    }
}
