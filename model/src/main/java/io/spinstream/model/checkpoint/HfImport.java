package io.spinstream.model.checkpoint;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.tokenizer.ChatMessage;
import io.spinstream.model.tokenizer.ChatTemplate;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;
import java.util.Locale;
import io.spinstream.model.plan.MachineMemory;

/**
 * Makes a team's own Hugging Face model folder a base checkpoint of the store: checked first (the
 * architecture, every weight file, a tokenizer that fits the vocabulary), then copied in with its
 * tokenizer files. The id is {@code base-} and the start of the sha256 of the folder's files, so the same
 * folder imported twice is the same base.
 */
public final class HfImport {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The base in the store; {@code reused} when an import of the same files was there already. */
    public record Imported(CheckpointMetadata metadata, Path directory, boolean reused) {
    }

    private HfImport() {
    }

    /**
     * @param progress bytes of the folder read so far (for a progress bar), out of {@link #size(Path)}
     */
    public static Imported into(CheckpointStore store, Path dir, NDManager manager, LongConsumer progress) {
        List<Path> files = check(dir);
        String id = "base-" + digest(files, progress).substring(0, 12);
        var existing = store.metadata(id);
        if (existing.isPresent()) {
            return new Imported(existing.get(), store.directoryOf(id), true);
        }
        int eos = endOfAnswer(dir);
        List<Integer> stops = stopTokens(dir);
        // float16 weights stay float16 in the store (a frozen base loads without growing); bfloat16 ones are
        // kept as float32, exactly (the engine here cannot hold bfloat16).
        io.spinstream.model.Precision precision = storedType(dir).equals("float16")
                ? new io.spinstream.model.Precision(ai.djl.ndarray.types.DataType.FLOAT16, ai.djl.ndarray.types.DataType.FLOAT32)
                : io.spinstream.model.Precision.FLOAT32;
        try (LlamaModel model = CheckpointStore.importHuggingFace(dir, manager,
                c -> eos < 0 ? c.withStops(c.eosTokenId(), stops) : c.withStops(eos, stops), precision)) {
            CheckpointMetadata saved = store.save(model, dir.resolve(CheckpointStore.TOKENIZER),
                    CheckpointMetadata.of(id, null, 0, 0, Map.of(), null));
            return new Imported(saved, store.directoryOf(id), false);
        }
    }

    /** A system and a user turn, else (a template without system turns) one user turn: rendered, or refused. */
    private static void probe(ChatTemplate template, Path dir) {
        try {
            template.render(List.of(new ChatMessage("system", "Be brief."), ChatMessage.user("Hello")), true);
        } catch (ChatTemplate.Refusal e) {
            try {
                template.render(List.of(ChatMessage.user("Hello")), true);
            } catch (ChatTemplate.Refusal again) {
                throw new CheckpointException(dir.resolve(ChatTemplate.TOKENIZER_CONFIG) + ": " + again.getMessage()
                        + " (a probe conversation of one user turn)");
            }
        }
    }

    /** config.json's torch_dtype ("float32" when it says none). */
    static String storedType(Path dir) {
        try {
            return JSON.readTree(dir.resolve(CheckpointStore.CONFIG).toFile()).path("torch_dtype").asText("float32");
        } catch (IOException e) {
            throw new CheckpointException("cannot read " + dir.resolve(CheckpointStore.CONFIG) + ": " + e.getMessage(), e);
        }
    }

    /** Bytes an import reads (the files its id is made of). */
    public static long size(Path dir) {
        long total = 0;
        for (Path f : check(dir)) {
            try {
                total += Files.size(f);
            } catch (IOException e) {
                throw new CheckpointException("cannot read " + f + ": " + e.getMessage(), e);
            }
        }
        return total;
    }

    /** Every problem that would make the folder unusable, as a refusal naming the file or key; the files to read. */
    static List<Path> check(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new CheckpointException("model folder " + dir + " does not exist or is not a folder");
        }
        Path configFile = dir.resolve(CheckpointStore.CONFIG);
        if (!FolderFiles.present(dir, CheckpointStore.CONFIG)) {
            throw new CheckpointException(configFile + " is missing: a Hugging Face model folder has a config.json");
        }
        FolderFiles.file(dir, CheckpointStore.CONFIG);
        // Every file that is read or copied into the store is one of the folder's own (links checked) first.
        for (String companion : CheckpointStore.TOKENIZER_COMPANIONS) {
            if (FolderFiles.present(dir, companion)) {
                FolderFiles.file(dir, companion);
            }
        }
        LlamaConfig config;
        try {
            config = LlamaConfig.read(configFile);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(configFile + ": " + e.getMessage(), e);
        }
        // What the import will hold, from config.json alone, before any tensor is allocated: refused with the
        // estimate where this machine cannot hold it (bfloat16 is kept as float32 here).
        long parameters = config.parameterCount();
        long bytes = parameters * (storedType(dir).equals("float16") ? 2 : 4);
        long available = MachineMemory.machine("MemAvailable:").orElse(Long.MAX_VALUE); // none: no bound here
        if (bytes > available) {
            throw new CheckpointException(String.format(Locale.ROOT, "%s: config.json describes %,d parameters,"
                    + " %.1f GiB to import (as %s), more than the %.1f GiB this machine has available", configFile, parameters,
                    bytes / (double) (1L << 30), storedType(dir).equals("float16") ? "float16" : "float32",
                    available / (double) (1L << 30)));
        }
        List<Path> weights = CheckpointStore.weightFiles(dir);
        for (Path w : weights) {
            Safetensors.checkComplete(w);
        }
        Path tokenizer = dir.resolve(CheckpointStore.TOKENIZER);
        if (!FolderFiles.present(dir, CheckpointStore.TOKENIZER)) {
            throw new CheckpointException(tokenizer + " is missing: the model's tokenizer (tokenizer.json) is needed");
        }
        FolderFiles.file(dir, CheckpointStore.TOKENIZER);
        int largest = largestTokenId(tokenizer);
        if (largest >= config.vocabSize()) {
            throw new CheckpointException(tokenizer + " has token ids up to " + largest + ", but config.json's vocab_size is "
                    + config.vocabSize() + ": the tokenizer does not belong to this model");
        }
        for (int stop : stopTokens(dir)) {
            if (stop < 0 || stop >= config.vocabSize()) {
                throw new CheckpointException(dir + ": eos_token_id " + stop + " is outside the vocabulary of "
                        + config.vocabSize());
            }
        }
        // The chat template renders a plain conversation within its bounds (time, output, depth), or the folder is
        // refused now rather than every prompt later.
        ChatTemplate.in(dir).ifPresent(t -> probe(t, dir));
        List<Path> files = new ArrayList<>();
        files.add(configFile);
        files.addAll(weights);
        files.add(tokenizer);
        for (String companion : CheckpointStore.TOKENIZER_COMPANIONS) {
            if (Files.isRegularFile(dir.resolve(companion))) {
                files.add(dir.resolve(companion));
            }
        }
        return files;
    }

    private static int largestTokenId(Path tokenizer) {
        try {
            JsonNode n = JSON.readTree(tokenizer.toFile());
            int max = -1;
            JsonNode vocab = n.path("model").path("vocab");
            if (vocab.isObject()) {
                for (JsonNode id : (Iterable<JsonNode>) vocab::elements) {
                    max = Math.max(max, id.asInt());
                }
            } else if (vocab.isArray()) { // Unigram: [token, score] pairs, ids by position
                max = vocab.size() - 1;
            }
            for (JsonNode t : n.path("added_tokens")) {
                max = Math.max(max, t.path("id").asInt());
            }
            return max;
        } catch (IOException e) {
            throw new CheckpointException(tokenizer + " is not a readable tokenizer.json: " + e.getMessage(), e);
        }
    }

    /**
     * The token that ends an answer: the chat template's {@code eos_token} (a chat model's end of turn),
     * else the first of generation_config.json's {@code eos_token_id}; -1 keeps config.json's.
     */
    static int endOfAnswer(Path dir) {
        try {
            var template = ChatTemplate.in(dir);
            if (template.isPresent() && !template.get().eosToken().isEmpty()) {
                JsonNode tok = JSON.readTree(dir.resolve(CheckpointStore.TOKENIZER).toFile());
                String eos = template.get().eosToken();
                for (JsonNode t : tok.path("added_tokens")) {
                    if (t.path("content").asText().equals(eos)) {
                        return t.path("id").asInt();
                    }
                }
                JsonNode id = tok.path("model").path("vocab").path(eos);
                if (id.isInt()) {
                    return id.asInt();
                }
                throw new CheckpointException(dir.resolve(ChatTemplate.TOKENIZER_CONFIG) + ": eos_token '" + eos
                        + "' is not a token of tokenizer.json");
            }
            Path gen = dir.resolve("generation_config.json");
            if (Files.isRegularFile(gen)) {
                JsonNode e = JSON.readTree(gen.toFile()).path("eos_token_id");
                if (e.isInt()) {
                    return e.asInt();
                }
                if (e.isArray() && !e.isEmpty()) {
                    return e.get(0).asInt();
                }
            }
            return -1;
        } catch (IOException e) {
            throw new CheckpointException("cannot read the tokenizer files of " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Every id that ends a turn: config.json's and generation_config.json's {@code eos_token_id} (one id or a list:
     * Llama 3 instruct ends a turn with {@code <|eot_id|>} and text with {@code <|end_of_text|>}).
     */
    static List<Integer> stopTokens(Path dir) {
        List<Integer> out = new ArrayList<>();
        for (String file : List.of(CheckpointStore.CONFIG, "generation_config.json")) {
            Path f = dir.resolve(file);
            if (!Files.isRegularFile(f)) {
                continue;
            }
            try {
                JsonNode e = JSON.readTree(f.toFile()).path("eos_token_id");
                for (JsonNode id : e.isArray() ? (Iterable<JsonNode>) e : List.of(e)) {
                    if (id.canConvertToInt() && !out.contains(id.asInt())) {
                        out.add(id.asInt());
                    }
                }
            } catch (IOException ex) {
                throw new CheckpointException("cannot read " + f + ": " + ex.getMessage(), ex);
            }
        }
        return out;
    }

    private static String digest(List<Path> files, LongConsumer progress) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 20];
            long done = 0;
            for (Path f : files) {
                sha.update(f.getFileName().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                try (InputStream in = Files.newInputStream(f)) {
                    int n;
                    while ((n = in.read(buffer)) > 0) {
                        sha.update(buffer, 0, n);
                        done += n;
                        progress.accept(done);
                    }
                }
            }
            return HexFormat.of().formatHex(sha.digest());
        } catch (IOException e) {
            throw new CheckpointException("cannot read " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
