package io.spinstream.model.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.testing.HfFolders;
import io.spinstream.model.testing.TransformersReference;
import io.spinstream.model.tokenizer.ByteLevelBpe;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class CheckpointStoreTest {
    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    static float[] logits(LlamaModel model, NDManager manager, int[] ids) {
        try (NDManager scope = manager.newSubManager()) {
            long[] l = java.util.Arrays.stream(ids).asLongStream().toArray();
            NDArray in = scope.create(l, new ai.djl.ndarray.types.Shape(1, ids.length));
            return model.forward(in, LlamaModel.defaultPositions(scope, 1, ids.length), null, null)
                    .toType(DataType.FLOAT32, false).toFloatArray();
        }
    }

    @Test
    void savedCheckpointsLoadBackIdenticallyWithTheirLineage(@TempDir Path dir) throws Exception {
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        Path tokenizer = dir.resolve("tokenizer.json");
        ByteLevelBpe.write(tokenizer, ByteLevelBpe.bytesOnly());
        try (LlamaModel model = LlamaModel.random(LlamaConfig.tiny(259, 32, 2, 4, 2, 64), manager, 1, DataType.FLOAT32)) {
            CheckpointMetadata saved = store.save(model, tokenizer, CheckpointMetadata.of("r1-s100", "base", 1, 100,
                    Map.of("loss", 0.5), Map.of("spin.pairs-0", 42L)));
            assertThat(saved.sha256()).hasSize(64);
            Path ckpt = dir.resolve("store/r1-s100");
            assertThat(ckpt.resolve("config.json")).exists();
            assertThat(ckpt.resolve("tokenizer.json")).exists();
            String header = new String(Files.readAllBytes(ckpt.resolve("model.safetensors")), 0, 4000, StandardCharsets.ISO_8859_1);
            assertThat(header).contains("model.layers.1.self_attn.q_proj.weight", "model.layers.0.mlp.down_proj.weight",
                    "model.embed_tokens.weight", "lm_head.weight");

            try (LoadedCheckpoint loaded = store.load("r1-s100", manager)) {
                assertThat(loaded.metadata().parentId()).isEqualTo("base");
                assertThat(loaded.metadata().offsets()).containsEntry("spin.pairs-0", 42L);
                assertThat(loaded.metadata().metrics()).containsEntry("loss", 0.5);
                int[] ids = {5, 9, 200, 3};
                assertThat(logits(loaded.model(), manager, ids)).containsExactly(logits(model, manager, ids));
            }
            assertThat(store.list()).containsExactly("r1-s100");
            assertThatThrownBy(() -> store.save(model, tokenizer, CheckpointMetadata.of("r1-s100", "base", 1, 100, null, null)))
                    .hasMessageContaining("exists already");
        }
    }

    @Test
    void trainingResumedFromACheckpointEndsExactlyWhereAnUninterruptedRunDoes(@TempDir Path dir) {
        var batch = java.util.List.of(io.spinstream.model.train.PreferenceBatch.sft(java.util.List.of(
                new io.spinstream.model.TokenBatch.Example(new int[]{3, 4}, new int[]{5, 6, 2}),
                new io.spinstream.model.TokenBatch.Example(new int[]{7}, new int[]{8, 2}))));
        LlamaConfig config = LlamaConfig.tiny(20, 16, 1, 2, 2, 16);
        java.util.function.Function<LlamaModel, io.spinstream.model.train.TrainStep> trainer = m ->
                new io.spinstream.model.train.TrainStep(m, new io.spinstream.model.objective.Sft(),
                        new io.spinstream.model.train.AdamW(0.9, 0.999, 1e-8, 0.01),
                        new io.spinstream.model.train.LearningRateSchedule(1e-2, 2, 10, 0.1), 1.0);
        float[] uninterrupted;
        try (LlamaModel model = LlamaModel.random(config, manager, 4, DataType.FLOAT32);
             var step = trainer.apply(model)) {
            for (int i = 0; i < 6; i++) {
                step.step(batch);
            }
            uninterrupted = model.parameters().get("lm_head.weight").toFloatArray();
        }
        CheckpointStore store = new CheckpointStore(dir);
        try (LlamaModel model = LlamaModel.random(config, manager, 4, DataType.FLOAT32);
             var step = trainer.apply(model);
             NDManager scope = manager.newSubManager()) {
            for (int i = 0; i < 3; i++) {
                step.step(batch);
            }
            store.save(model, null, CheckpointMetadata.of("s3", null, 0, 3, null, null), step.state(scope));
        }
        try (LoadedCheckpoint loaded = store.load("s3", manager); var step = trainer.apply(loaded.model());
             NDManager scope = manager.newSubManager()) {
            step.restore(loaded.trainingState(scope));
            assertThat(step.steps()).isEqualTo(3);
            for (int i = 0; i < 3; i++) {
                step.step(batch);
            }
            assertThat(loaded.model().parameters().get("lm_head.weight").toFloatArray()).containsExactly(uninterrupted);
        }
    }

    @Test
    void aCorruptOrPartialCheckpointIsRefusedWithTheReason(@TempDir Path dir) throws Exception {
        CheckpointStore store = new CheckpointStore(dir);
        try (LlamaModel model = LlamaModel.random(LlamaConfig.tiny(20, 16, 1, 2, 2, 16), manager, 1, DataType.FLOAT32)) {
            store.save(model, null, CheckpointMetadata.of("good", null, 0, 0, null, null));
            store.save(model, null, CheckpointMetadata.of("flipped", null, 0, 0, null, null));
            store.save(model, null, CheckpointMetadata.of("partial", null, 0, 0, null, null));
        }
        Path weights = dir.resolve("flipped/model.safetensors");
        byte[] bytes = Files.readAllBytes(weights);
        bytes[bytes.length - 3] ^= 0x01;
        Files.write(weights, bytes);
        assertThatThrownBy(() -> store.load("flipped", manager))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("is corrupt: sha256 of model.safetensors")
                .satisfies(e -> assertThat(((CheckpointException) e).missing()).as("there and wrong: never retried").isFalse());

        Files.delete(dir.resolve("partial/spinstream.json"));
        assertThatThrownBy(() -> store.load("partial", manager))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("is incomplete: spinstream.json is missing")
                .satisfies(e -> assertThat(((CheckpointException) e).missing()).as("may still arrive").isTrue());
        // A write that died before its rename leaves a temporary folder, which is never listed.
        Files.createDirectories(dir.resolve(".tmp-r2-dead"));
        assertThat(store.list()).containsExactlyInAnyOrder("good", "flipped");
        assertThatThrownBy(() -> store.load("missing", manager)).hasMessageContaining("no checkpoint at")
                .satisfies(e -> assertThat(((CheckpointException) e).missing()).isTrue());
        try (LoadedCheckpoint ok = store.load("good", manager)) {
            assertThat(ok.model().parameterCount()).isPositive();
        }
    }

    /** The configuration, tokenizer and template files are checked like the weights: changed or added, refused. */
    @Test
    void theFilesBesideTheWeightsAreCoveredByTheChecksums(@TempDir Path dir) throws Exception {
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        Path tokenizer = dir.resolve("tokenizer.json");
        ByteLevelBpe.write(tokenizer, ByteLevelBpe.bytesOnly());
        try (LlamaModel model = LlamaModel.random(LlamaConfig.tiny(259, 16, 1, 2, 2, 16), manager, 1, DataType.FLOAT32)) {
            for (String id : List.of("good", "edited", "added")) {
                store.save(model, tokenizer, CheckpointMetadata.of(id, null, 0, 0, null, null));
            }
        }
        assertThat(CheckpointStore.verify(store.directoryOf("good")).files()).containsOnlyKeys("config.json", "tokenizer.json");
        Path edited = store.directoryOf("edited").resolve("tokenizer.json");
        Files.writeString(edited, Files.readString(edited).replaceFirst("\\{", "{ "));
        assertThatThrownBy(() -> store.load("edited", manager)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("is corrupt: tokenizer.json is missing or does not match its sha256");
        Files.writeString(store.directoryOf("added").resolve("tokenizer_config.json"), "{\"chat_template\": \"{{ 7 }}\"}");
        assertThatThrownBy(() -> store.load("added", manager)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("tokenizer_config.json is not covered by its checksums");
        try (LoadedCheckpoint ok = store.load("good", manager)) {
            assertThat(ok.model().parameterCount()).isPositive();
        }
    }

    @Test
    void weightsOutsideTheCheckpointFolderAreRefused(@TempDir Path dir) throws Exception {
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        try (LlamaModel model = LlamaModel.random(LlamaConfig.tiny(20, 16, 1, 2, 2, 16), manager, 1, DataType.FLOAT32)) {
            store.save(model, null, CheckpointMetadata.of("victim", null, 0, 0, null, null));
            store.save(model, null, CheckpointMetadata.of("escape", null, 0, 0, null, null));
        }
        // The same weights, its sha256 right, but named by a path that leaves the folder.
        Path meta = dir.resolve("store/escape/spinstream.json");
        Files.writeString(meta, Files.readString(meta).replace("\"weights_file\" : \"model.safetensors\"",
                "\"weights_file\" : \"../victim/model.safetensors\""));
        assertThat(Files.readString(meta)).contains("../victim/model.safetensors");
        assertThatThrownBy(() -> store.load("escape", manager)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("weights_file '../victim/model.safetensors' is not a file of the checkpoint's own folder");
    }

    /** A user's model as it arrives from Hugging Face: written here by code independent of the loader. */
    @ParameterizedTest
    @ValueSource(strings = {"F32", "BF16"})
    void aHuggingFaceLlamaLoadsAndItsLogitsMatchAnIndependentComputation(String dtype, @TempDir Path dir) throws Exception {
        int vocab = 50, hidden = 32, inter = 48, layers = 2, heads = 4, kvHeads = 2;
        ObjectNode config = new ObjectMapper().createObjectNode();
        config.putArray("architectures").add("LlamaForCausalLM");
        config.put("model_type", "llama").put("vocab_size", vocab).put("hidden_size", hidden)
                .put("intermediate_size", inter).put("num_hidden_layers", layers).put("num_attention_heads", heads)
                .put("num_key_value_heads", kvHeads).put("max_position_embeddings", 64).put("rms_norm_eps", 1e-6)
                .put("rope_theta", 10000.0).put("tie_word_embeddings", false).put("hidden_act", "silu")
                .put("torch_dtype", dtype.equals("BF16") ? "bfloat16" : "float32");
        config.putArray("eos_token_id").add(2);
        Files.writeString(dir.resolve("config.json"), config.toString());

        LlamaConfig parsed = LlamaConfig.read(dir.resolve("config.json"));
        Random random = new Random(99);
        Map<String, float[]> weights = new LinkedHashMap<>();
        for (String name : parsed.parameterNames()) {
            int n = (int) java.util.Arrays.stream(parsed.shapeOf(name)).reduce(1, (a, b) -> a * b);
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = (float) (name.endsWith("norm.weight") ? 1 + 0.1 * random.nextGaussian() : 0.2 * random.nextGaussian());
                if (dtype.equals("BF16")) {
                    v[i] = Float.intBitsToFloat(Float.floatToIntBits(v[i]) & 0xFFFF0000); // what bf16 keeps
                }
            }
            weights.put(name, v);
        }
        writeSafetensors(dir.resolve("model.safetensors"), weights, parsed, dtype);

        int[] ids = {1, 17, 4, 33, 8, 49, 2};
        double[][] expected = new TransformersReference(config, weights).logits(ids);
        try (LlamaModel model = CheckpointStore.importHuggingFace(dir, manager)) {
            assertThat(model.config().eosTokenId()).isEqualTo(2);
            float[] actual = logits(model, manager, ids);
            for (int t = 0; t < ids.length; t++) {
                for (int v = 0; v < vocab; v++) {
                    assertThat((double) actual[t * vocab + v]).as("logit[%d][%d]", t, v).isCloseTo(expected[t][v], within(2e-4));
                }
            }
        }
    }

    private static void writeSafetensors(Path file, Map<String, float[]> weights, LlamaConfig config, String dtype)
            throws Exception {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        weights.keySet().forEach(name -> shapes.put(name, config.shapeOf(name)));
        HfFolders.writeSafetensors(file, List.copyOf(weights.keySet()), shapes, weights, dtype);
        assertThat(List.of(file)).allMatch(Files::exists);
    }

    @Test
    void aCheckpointIsDeletedOutOfSightItsOptimiserStateDroppedAndCrashedWritesCleared(@TempDir Path dir) throws Exception {
        CheckpointStore store = new CheckpointStore(dir);
        try (LlamaModel model = LlamaModel.random(LlamaConfig.tiny(20, 16, 1, 2, 2, 16), manager, 1, DataType.FLOAT32)) {
            Map<String, ai.djl.ndarray.NDArray> state = Map.of("m", manager.ones(new ai.djl.ndarray.types.Shape(4)));
            store.save(model, null, CheckpointMetadata.of("a", null, 0, 1, null, null), state);
            store.save(model, null, CheckpointMetadata.of("b", null, 0, 2, null, null), state);
        }
        String sha = store.metadata("a").orElseThrow().sha256();
        long before = store.sizeOf("a");
        store.dropTrainingState("a");
        assertThat(Files.exists(dir.resolve("a").resolve(CheckpointStore.TRAINING_STATE))).isFalse();
        assertThat(store.metadata("a").orElseThrow().trainingStateSha256()).isNull();
        assertThat(store.metadata("a").orElseThrow().sha256()).as("the weights' sha256 is unchanged").isEqualTo(sha);
        assertThat(store.sizeOf("a")).isLessThan(before);
        try (LoadedCheckpoint loaded = store.load("a", manager)) {
            assertThat(loaded.metadata().id()).isEqualTo("a");
        }

        store.delete("b");
        assertThat(store.list()).containsExactly("a");
        assertThat(Files.exists(dir.resolve("b"))).isFalse();

        Path crashed = Files.createDirectories(dir.resolve(".tmp-c-123"));
        Files.writeString(crashed.resolve("model.safetensors"), "partial");
        Files.setLastModifiedTime(crashed, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() - 600_000));
        Path live = Files.createDirectories(dir.resolve(".tmp-d-456"));
        assertThat(store.removeTemporaryFolders(java.time.Duration.ofMinutes(1))).isEqualTo(1);
        assertThat(Files.exists(crashed)).isFalse();
        assertThat(Files.exists(live)).as("a write in progress is left alone").isTrue();
    }
}
