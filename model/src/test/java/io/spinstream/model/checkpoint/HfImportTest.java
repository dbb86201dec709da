package io.spinstream.model.checkpoint;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.testing.HfFolders;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.model.tokenizer.SpinTokenizer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A team's own Hugging Face folder becomes a base checkpoint; every unusable folder is refused by name. */
class HfImportTest {
    NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    @Test
    void aShardedBf16Qwen2FolderBecomesABaseWithItsTokenizerFilesOnceOnly(@TempDir Path dir) throws IOException {
        Path model = dir.resolve("qwen");
        Map<String, float[]> weights = HfFolders.write(model, HfFolders.Spec.tinyQwen2());
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        List<Long> progress = new ArrayList<>();
        HfImport.Imported first = HfImport.into(store, model, manager, progress::add);
        assertThat(first.reused()).isFalse();
        assertThat(first.metadata().id()).matches("base-[0-9a-f]{12}");
        assertThat(progress).isNotEmpty();
        assertThat(progress.get(progress.size() - 1)).isEqualTo(HfImport.size(model));
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "generation_config.json")) {
            assertThat(first.directory().resolve(f)).as(f).isRegularFile();
        }
        try (LoadedCheckpoint base = store.load(first.metadata().id(), manager)) {
            LlamaModel m = base.model();
            assertThat(m.config().architecture()).isEqualTo("Qwen2ForCausalLM");
            assertThat(m.config().eosTokenId()).as("the chat template's eos_token, <|im_end|>").isEqualTo(260);
            // BF16 values are exact in float32: the stored weights are the folder's.
            assertThat(m.parameters().get("model.layers.1.self_attn.k_proj.bias").toFloatArray())
                    .containsExactly(weights.get("model.layers.1.self_attn.k_proj.bias"));
            assertThat(m.parameters().get("model.embed_tokens.weight").toFloatArray())
                    .containsExactly(weights.get("model.embed_tokens.weight"));
            try (SpinTokenizer tok = SpinTokenizer.load(base.tokenizerJson(), PromptTemplate.AUTO, m.config().eosTokenId())) {
                int[] prompt = tok.encodePrompt("2+2=");
                assertThat(prompt).containsExactly(tok.encode("<|im_start|>user\n2+2=<|im_end|>\n<|im_start|>assistant\n"));
                assertThat(prompt[0]).as("<|im_start|> is one special token").isEqualTo(259);
                assertThat(tok.encodeResponse("4")).endsWith(260);
            }
        }
        HfImport.Imported again = HfImport.into(store, model, manager, n -> {
        });
        assertThat(again.reused()).isTrue();
        assertThat(again.metadata().id()).isEqualTo(first.metadata().id());
        assertThat(store.list()).hasSize(1);
    }

    @Test
    void anExportedFolderImportsAgainWithEqualLogits(@TempDir Path dir) throws IOException {
        Path model = dir.resolve("qwen");
        HfFolders.write(model, HfFolders.Spec.tinyQwen2());
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        String id = HfImport.into(store, model, manager, n -> {
        }).metadata().id();
        Path out = store.exportHuggingFace(id, dir.resolve("export"));
        assertThat(out.resolve("spinstream.json")).doesNotExist();
        assertThat(out.resolve("training_state.safetensors")).doesNotExist();
        for (String f : List.of("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json")) {
            assertThat(out.resolve(f)).as(f).isRegularFile();
        }
        int[] ids = {259, 17, 4, 33, 8, 200, 260};
        try (LoadedCheckpoint base = store.load(id, manager);
             LlamaModel exported = CheckpointStore.importHuggingFace(out, manager);
             LlamaModel original = CheckpointStore.importHuggingFace(model, manager)) {
            float[] expected = CheckpointStoreTest.logits(base.model(), manager, ids);
            assertThat(CheckpointStoreTest.logits(exported, manager, ids)).containsExactly(expected);
            assertThat(CheckpointStoreTest.logits(original, manager, ids)).containsExactly(expected);
        }
        assertThatThrownBy(() -> store.exportHuggingFace(id, out)).hasMessageContaining("is not empty");
        assertThatThrownBy(() -> store.exportHuggingFace("base-nope", dir.resolve("x"))).hasMessageContaining("no checkpoint base-nope");
    }

    @Test
    void anF16MistralFolderImports(@TempDir Path dir) throws IOException {
        Path model = dir.resolve("mistral");
        HfFolders.Spec s = new HfFolders.Spec("MistralForCausalLM", 261, 32, 1, 4, 4, "F16", 1, null, 3);
        Map<String, float[]> weights = HfFolders.write(model, s);
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        HfImport.Imported imported = HfImport.into(store, model, manager, n -> {
        });
        try (LoadedCheckpoint base = store.load(imported.metadata().id(), manager)) {
            assertThat(base.model().parameters().get("lm_head.weight").toFloatArray()).containsExactly(weights.get("lm_head.weight"));
            assertThat(base.model().config().eosTokenId()).as("generation_config.json's first eos").isEqualTo(260);
        }
    }

    /**
     * A folder's files are its own: a link out of it (to a system file) and an index naming a shard outside it are
     * refused before anything is read or copied; the Hugging Face cache's layout (every snapshot file a link into the
     * cache's blobs/) imports.
     */
    @Test
    void linksAndShardPathsOutOfTheFolderAreRefusedAndTheHubCacheLayoutImports(@TempDir Path dir) throws IOException {
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        Path secret = Files.writeString(dir.resolve("secret.txt"), "{\"not\": \"yours\"}");
        Path linked = dir.resolve("linked");
        HfFolders.write(linked, HfFolders.Spec.tinyQwen2());
        Files.deleteIfExists(linked.resolve("special_tokens_map.json"));
        Files.createSymbolicLink(linked.resolve("special_tokens_map.json"), secret);
        assertThatThrownBy(() -> HfImport.into(store, linked, manager, n -> {
        })).isInstanceOf(CheckpointException.class).hasMessageContaining("special_tokens_map.json is a link to")
                .hasMessageContaining("outside the model folder");
        assertThat(store.list()).isEmpty();

        Path escaping = dir.resolve("escaping");
        HfFolders.write(escaping, HfFolders.Spec.tinyQwen2());
        Path index = escaping.resolve("model.safetensors.index.json");
        assertThat(index).as("the tiny Qwen2 folder is sharded").exists();
        String json = Files.readString(index);
        String shard = json.substring(json.indexOf("model-0"), json.indexOf(".safetensors", json.indexOf("model-0")) + 12);
        Files.move(escaping.resolve(shard), dir.resolve(shard));
        Files.writeString(index, json.replace("\"" + shard + "\"", "\"../" + shard + "\""));
        assertThatThrownBy(() -> HfImport.into(store, escaping, manager, n -> {
        })).isInstanceOf(CheckpointException.class).hasMessageContaining("'../" + shard + "' is not a file name of the folder");

        // models--org--name/snapshots/REV/<file> -> ../../blobs/<hash>, as snapshot_download lays the cache out.
        Path plain = dir.resolve("plain");
        HfFolders.write(plain, HfFolders.Spec.tinyQwen2());
        Path repo = dir.resolve("hub/models--org--tiny");
        Path snapshot = Files.createDirectories(repo.resolve("snapshots/0123abcd"));
        Files.createDirectories(repo.resolve("blobs"));
        try (var files = Files.list(plain)) {
            for (Path f : files.toList()) {
                Path blob = repo.resolve("blobs").resolve(CheckpointStore.sha256Of(f));
                Files.copy(f, blob);
                Files.createSymbolicLink(snapshot.resolve(f.getFileName()), Path.of("../../blobs").resolve(blob.getFileName()));
            }
        }
        HfImport.Imported cached = HfImport.into(store, snapshot, manager, n -> {
        });
        assertThat(store.list()).containsExactly(cached.metadata().id());
        assertThat(Files.isSymbolicLink(store.directoryOf(cached.metadata().id()).resolve("tokenizer.json")))
                .as("the store holds copies, not links").isFalse();
    }

    @Test
    void everyUnusableFolderIsRefusedNamingTheFileOrKey(@TempDir Path dir) throws IOException {
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        assertThatThrownBy(() -> HfImport.into(store, dir.resolve("nothing"), manager, n -> {
        })).hasMessageContaining("nothing does not exist");

        Path gpt2 = dir.resolve("gpt2");
        HfFolders.write(gpt2, HfFolders.Spec.tinyQwen2());
        Files.writeString(gpt2.resolve("config.json"), Files.readString(gpt2.resolve("config.json"))
                .replace("Qwen2ForCausalLM", "GPT2LMHeadModel"));
        assertThatThrownBy(() -> HfImport.into(store, gpt2, manager, n -> {
        })).hasMessageContaining("config.json").hasMessageContaining("GPT2LMHeadModel is not supported")
                .hasMessageContaining("LlamaForCausalLM").hasMessageContaining("MistralForCausalLM").hasMessageContaining("Qwen2ForCausalLM");

        Path scaled = dir.resolve("rope-scaled");
        HfFolders.write(scaled, HfFolders.Spec.tinyQwen2());
        Files.writeString(scaled.resolve("config.json"), Files.readString(scaled.resolve("config.json"))
                .replace("\"rope_theta\"", "\"rope_scaling\" : {\"rope_type\": \"fancy\", \"factor\": 8.0}, \"rope_theta\""));
        assertThatThrownBy(() -> HfImport.into(store, scaled, manager, n -> {
        })).hasMessageContaining("config.json: Qwen2ForCausalLM: rope_scaling type 'fancy' is not supported");

        Path incomplete = dir.resolve("llama3-incomplete");
        HfFolders.write(incomplete, HfFolders.Spec.tinyQwen2());
        Files.writeString(incomplete.resolve("config.json"), Files.readString(incomplete.resolve("config.json"))
                .replace("\"rope_theta\"", "\"rope_scaling\" : {\"rope_type\": \"llama3\", \"factor\": 8.0}, \"rope_theta\""));
        assertThatThrownBy(() -> HfImport.into(store, incomplete, manager, n -> {
        })).hasMessageContaining("rope_scaling.low_freq_factor must be a number > 0, got null");

        Path unknownKey = dir.resolve("unknown-key");
        HfFolders.write(unknownKey, HfFolders.Spec.tinyQwen2());
        Files.writeString(unknownKey.resolve("config.json"), Files.readString(unknownKey.resolve("config.json"))
                .replace("\"rope_theta\"", "\"logits_scaling\" : 4.0, \"rope_theta\""));
        assertThatThrownBy(() -> HfImport.into(store, unknownKey, manager, n -> {
        })).hasMessageContaining("Qwen2ForCausalLM: config.json key 'logits_scaling' is not understood");

        // Within the bounds of each key, but 1,024 layers of width 65,536: refused from config.json with the estimate,
        // before any weight is read or allocated.
        Path huge = dir.resolve("huge");
        HfFolders.write(huge, HfFolders.Spec.tinyQwen2());
        String config = Files.readString(huge.resolve("config.json"));
        Files.writeString(huge.resolve("config.json"), config
                .replaceFirst("\"num_hidden_layers\"\\s*:\\s*\\d+", "\"num_hidden_layers\": 1024")
                .replaceFirst("\"intermediate_size\"\\s*:\\s*\\d+", "\"intermediate_size\": 65536")
                .replaceFirst("\"hidden_size\"\\s*:\\s*\\d+", "\"hidden_size\": 65536")
                .replaceFirst("\"num_attention_heads\"\\s*:\\s*\\d+", "\"num_attention_heads\": 512")
                .replaceFirst("\"num_key_value_heads\"\\s*:\\s*\\d+", "\"num_key_value_heads\": 512"));
        assertThatThrownBy(() -> HfImport.into(store, huge, manager, n -> {
        })).isInstanceOf(CheckpointException.class).hasMessageContaining("config.json describes")
                .hasMessageContaining("GiB to import").hasMessageContaining("more than the");

        // A template that never finishes rendering is refused at import, not on every prompt later.
        Path spinning = dir.resolve("spinning-template");
        HfFolders.write(spinning, HfFolders.Spec.tinyQwen2());
        ObjectNode tc = (ObjectNode) new ObjectMapper().readTree(spinning.resolve("tokenizer_config.json").toFile());
        tc.put("chat_template", "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
                + "{% endfor %}{% endfor %}{% endfor %}");
        Files.writeString(spinning.resolve("tokenizer_config.json"), tc.toString());
        assertThatThrownBy(() -> HfImport.into(store, spinning, manager, n -> {
        })).isInstanceOf(CheckpointException.class).hasMessageContaining("tokenizer_config.json: the chat template refused")
                .hasMessageContaining("rendering took longer than");

        Path noConfig = dir.resolve("no-config");
        HfFolders.write(noConfig, HfFolders.Spec.tinyQwen2());
        Files.delete(noConfig.resolve("config.json"));
        assertThatThrownBy(() -> HfImport.into(store, noConfig, manager, n -> {
        })).hasMessageContaining("config.json is missing");

        Path shard = dir.resolve("missing-shard");
        HfFolders.write(shard, HfFolders.Spec.tinyQwen2());
        Files.delete(shard.resolve("model-00002-of-00002.safetensors"));
        assertThatThrownBy(() -> HfImport.into(store, shard, manager, n -> {
        })).hasMessageContaining("model-00002-of-00002.safetensors is missing (listed in model.safetensors.index.json)");

        Path cut = dir.resolve("truncated");
        HfFolders.write(cut, HfFolders.Spec.tinyQwen2());
        try (FileChannel c = FileChannel.open(cut.resolve("model-00001-of-00002.safetensors"), StandardOpenOption.WRITE)) {
            c.truncate(c.size() - 100);
        }
        assertThatThrownBy(() -> HfImport.into(store, cut, manager, n -> {
        })).hasMessageContaining("model-00001-of-00002.safetensors is truncated");

        Path small = dir.resolve("small-vocab");
        HfFolders.write(small, HfFolders.Spec.tinyQwen2().withVocab(200));
        assertThatThrownBy(() -> HfImport.into(store, small, manager, n -> {
        })).hasMessageContaining("tokenizer.json has token ids up to 260, but config.json's vocab_size is 200");

        Path noTokenizer = dir.resolve("no-tokenizer");
        HfFolders.write(noTokenizer, HfFolders.Spec.tinyQwen2());
        Files.delete(noTokenizer.resolve("tokenizer.json"));
        assertThatThrownBy(() -> HfImport.into(store, noTokenizer, manager, n -> {
        })).hasMessageContaining("tokenizer.json is missing");

        Path badEos = dir.resolve("bad-eos");
        HfFolders.write(badEos, HfFolders.Spec.tinyQwen2());
        Files.writeString(badEos.resolve("tokenizer_config.json"), Files.readString(badEos.resolve("tokenizer_config.json"))
                .replace("\"eos_token\" : \"<|im_end|>\"", "\"eos_token\" : \"<|endoftext|>\""));
        assertThatThrownBy(() -> HfImport.into(store, badEos, manager, n -> {
        })).hasMessageContaining("tokenizer_config.json: eos_token '<|endoftext|>' is not a token of tokenizer.json");
        assertThat(store.list()).as("nothing was imported").isEmpty();
    }
}
