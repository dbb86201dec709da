package io.spinstream.model.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.Precision;
import io.spinstream.model.lora.LoraAdapter;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Checkpoints as folders in Hugging Face layout under one root (a local folder or a shared volume):
 * {@code config.json}, {@code model.safetensors} (HF tensor names), {@code tokenizer.json} and
 * {@code spinstream.json} (lineage, metrics, offsets, sha256 of the weights). A checkpoint is written into
 * a temporary folder and renamed into place, so a reader sees it whole or not at all; loading verifies
 * the sha256 and refuses anything else.
 */
public final class CheckpointStore {
    public static final String CONFIG = "config.json";
    public static final String WEIGHTS = "model.safetensors";
    public static final String TOKENIZER = "tokenizer.json";
    /** Files beside tokenizer.json that a checkpoint keeps with it (Hugging Face's names). */
    public static final List<String> TOKENIZER_COMPANIONS = List.of("tokenizer_config.json", "special_tokens_map.json",
            "generation_config.json");
    public static final String METADATA = "spinstream.json";
    /** Optimiser statistics and step counters, for an exact resume (not part of the HF layout). */
    public static final String TRAINING_STATE = "training_state.safetensors";
    private static final Pattern LEGAL_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,199}");
    private static final String TEMP_PREFIX = ".tmp-";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final java.util.function.Consumer<Path> beforeRename;
    private final Path root;

    public CheckpointStore(Path root) {
        this(root, dir -> {
        });
    }

    /**
     * @param beforeRename told the temporary folder of every checkpoint written, complete, just before it is
     *                     renamed into place (where a test kills the writer mid-save)
     */
    public CheckpointStore(Path root, java.util.function.Consumer<Path> beforeRename) {
        this.root = root;
        this.beforeRename = beforeRename;
    }

    public Path root() {
        return root;
    }

    public Path directoryOf(String id) {
        if (!LEGAL_ID.matcher(id).matches()) {
            throw new IllegalArgumentException("checkpoint id must be letters, digits, '.', '_' or '-' (at most 200), got '" + id + "'");
        }
        return root.resolve(id);
    }

    /** Writes the model atomically under {@code metadata.id()}; returns the sealed metadata (with sha256). */
    public CheckpointMetadata save(LlamaModel model, Path tokenizerJson, CheckpointMetadata metadata) {
        return save(model, tokenizerJson, metadata, Map.of());
    }

    /**
     * As {@link #save(LlamaModel, Path, CheckpointMetadata)}, with the training state beside the weights. A
     * model with a LoRA adapter attached is saved as the adapter alone, in PEFT's layout
     * ({@code adapter_config.json}, {@code adapter_model.safetensors}); its metadata must name the base
     * ({@link CheckpointMetadata#adapterOver}).
     */
    public CheckpointMetadata save(LlamaModel model, Path tokenizerJson, CheckpointMetadata metadata,
                                   Map<String, NDArray> trainingState) {
        LoraAdapter adapter = model.adapter();
        if (adapter != null && !metadata.isAdapter()) {
            throw new IllegalArgumentException("checkpoint " + metadata.id() + " is a LoRA adapter: its metadata must name its base");
        }
        if (adapter == null && metadata.isAdapter()) {
            throw new IllegalArgumentException("checkpoint " + metadata.id() + " names a base but the model has no adapter");
        }
        Path target = directoryOf(metadata.id());
        if (Files.exists(target)) {
            throw new CheckpointException("checkpoint " + metadata.id() + " exists already at " + target);
        }
        Path temp = root.resolve(TEMP_PREFIX + metadata.id() + "-" + UUID.randomUUID());
        try {
            Files.createDirectories(temp);
            Files.writeString(temp.resolve(CONFIG), model.config().toJson(model.precision().weights()));
            String weightsFile = adapter == null ? WEIGHTS : LoraAdapter.WEIGHTS;
            if (adapter != null) {
                Files.writeString(temp.resolve(LoraAdapter.CONFIG), adapter.config().toPeftJson(metadata.baseId()));
            }
            String sha = writeTensors(temp.resolve(weightsFile), adapter == null ? model.parameters() : adapter.parameters());
            String stateSha = trainingState.isEmpty() ? null : writeTensors(temp.resolve(TRAINING_STATE), trainingState);
            if (tokenizerJson != null) {
                Files.copy(tokenizerJson, temp.resolve(TOKENIZER));
                // The tokenizer's companions (chat template, special tokens, generation settings) travel with it.
                for (String companion : TOKENIZER_COMPANIONS) {
                    Path f = tokenizerJson.toAbsolutePath().resolveSibling(companion);
                    if (Files.isRegularFile(f)) {
                        Files.copy(f, temp.resolve(companion));
                    }
                }
            }
            CheckpointMetadata sealed = metadata.sealed(Instant.now().toString(), weightsFile, sha, stateSha, coveredFiles(temp));
            // The metadata goes last: a folder without it was never completed.
            Files.write(temp.resolve(METADATA), JSON.writeValueAsBytes(sealed));
            forceAll(temp);
            beforeRename.accept(temp);
            try {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
                force(root);
            } catch (AtomicMoveNotSupportedException e) {
                throw new CheckpointException("the checkpoint store " + root + " cannot rename atomically", e);
            }
            return sealed;
        } catch (FileAlreadyExistsException e) {
            throw new CheckpointException("checkpoint " + metadata.id() + " was written concurrently at " + target, e);
        } catch (IOException e) {
            throw new CheckpointException("cannot write checkpoint " + metadata.id() + " under " + root + ": " + e, e);
        } finally {
            deleteQuietly(temp);
        }
    }

    /**
     * Copies the checkpoint folder {@code dir} (checked first: a corrupt one is refused) into this store
     * under its own id, atomically, unless the store holds it already; returns the folder in the store.
     */
    public Path copyIn(Path dir) {
        CheckpointMetadata m;
        try (ai.djl.ndarray.NDManager scratch = ai.djl.ndarray.NDManager.newBaseManager();
             LoadedCheckpoint checked = load(dir, scratch)) {
            m = checked.metadata();
        }
        Path target = directoryOf(m.id());
        if (Files.isRegularFile(target.resolve(METADATA))) {
            return target;
        }
        Path temp = root.resolve(TEMP_PREFIX + m.id() + "-" + UUID.randomUUID());
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            Files.createDirectories(temp);
            for (Path f : files.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().equals(METADATA)).toList()) {
                Files.copy(f, temp.resolve(f.getFileName()));
            }
            Files.copy(dir.resolve(METADATA), temp.resolve(METADATA)); // last, as in save
            forceAll(temp);
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
            force(root);
            return target;
        } catch (IOException e) {
            throw new CheckpointException("cannot copy checkpoint " + m.id() + " into " + root + ": " + e, e);
        } finally {
            deleteQuietly(temp);
        }
    }

    /**
     * Deletes checkpoint {@code id}: renamed out of sight first, so a deletion cut short leaves a
     * temporary folder ({@link #removeTemporaryFolders}), never a half checkpoint under its id.
     */
    public void delete(String id) {
        Path dir = directoryOf(id);
        if (!Files.exists(dir)) {
            return;
        }
        Path doomed = root.resolve(TEMP_PREFIX + "deleted-" + id + "-" + UUID.randomUUID());
        try {
            Files.move(dir, doomed, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new CheckpointException("cannot delete checkpoint " + id + ": " + e.getMessage(), e);
        }
        deleteQuietly(doomed);
    }

    /**
     * Drops checkpoint {@code id}'s optimiser state: its metadata is rewritten without the state's sha256
     * (atomically), then the state file is deleted. The weights and their sha256 stay as they were.
     */
    public void dropTrainingState(String id) {
        Path dir = directoryOf(id);
        CheckpointMetadata m = metadata(id).orElseThrow(() -> new CheckpointException("no checkpoint " + id + " in " + root));
        if (m.trainingStateSha256() == null && !Files.exists(dir.resolve(TRAINING_STATE))) {
            return;
        }
        CheckpointMetadata without = m.withoutTrainingState();
        Path temp = dir.resolve(METADATA + ".tmp-" + UUID.randomUUID());
        try {
            Files.write(temp, JSON.writeValueAsBytes(without));
            force(temp);
            Files.move(temp, dir.resolve(METADATA), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            Files.deleteIfExists(dir.resolve(TRAINING_STATE));
        } catch (IOException e) {
            throw new CheckpointException("cannot drop the optimiser state of " + id + ": " + e.getMessage(), e);
        } finally {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException ignored) {
                // best effort
            }
        }
    }

    /**
     * Removes the temporary folders of writes and deletions that never finished (a crash), those not
     * touched for {@code olderThan} (a live writer's folder is younger); returns how many were removed.
     */
    public int removeTemporaryFolders(java.time.Duration olderThan) {
        if (!Files.isDirectory(root)) {
            return 0;
        }
        long cutoff = System.currentTimeMillis() - olderThan.toMillis();
        int removed = 0;
        try (Stream<Path> dirs = Files.list(root)) {
            for (Path d : dirs.filter(d -> d.getFileName().toString().startsWith(TEMP_PREFIX)).toList()) {
                if (Files.getLastModifiedTime(d).toMillis() <= cutoff) {
                    deleteQuietly(d);
                    removed++;
                }
            }
        } catch (IOException e) {
            throw new CheckpointException("cannot list " + root + ": " + e.getMessage(), e);
        }
        return removed;
    }

    /** Bytes of every file of checkpoint {@code id}. */
    public long sizeOf(String id) {
        try (Stream<Path> files = Files.walk(directoryOf(id))) {
            return files.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
        } catch (IOException e) {
            return 0;
        }
    }

    /** Flushes a file (or a folder's entries) to the device: a rename must not outrun its contents. */
    private static void force(Path p) throws IOException {
        try (java.nio.channels.FileChannel c = java.nio.channels.FileChannel.open(p, Files.isDirectory(p)
                ? java.nio.file.StandardOpenOption.READ : java.nio.file.StandardOpenOption.WRITE)) {
            c.force(true);
        } catch (IOException e) {
            if (!Files.isDirectory(p)) {
                throw e; // some file systems cannot open a folder for force(); its files are flushed already
            }
        }
    }

    private static void forceAll(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                force(f);
            }
        }
        force(dir);
    }

    private static String writeTensors(Path file, Map<String, NDArray> tensors) throws IOException {
        MessageDigest digest = sha256();
        try (OutputStream out = new DigestOutputStream(
                new java.io.BufferedOutputStream(Files.newOutputStream(file), 1 << 20), digest)) {
            Safetensors.write(out, tensors);
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /**
     * Writes checkpoint {@code id} as transformers and PEFT load it: a full checkpoint as a plain Hugging
     * Face folder (config.json, model.safetensors, the tokenizer files, generation_config.json); a LoRA
     * adapter as PEFT's adapter folder (adapter_config.json naming its base by id, adapter_model.safetensors,
     * the tokenizer files). The weights are checked against their sha256 first. {@code target} must not
     * exist or be empty.
     */
    public Path exportHuggingFace(String id, Path target) {
        Path dir = directoryOf(id);
        CheckpointMetadata m = metadata(id).orElseThrow(() -> new CheckpointException("no checkpoint " + id + " in " + root));
        Path weights = dir.resolve(weightsName(m));
        if (!Files.isRegularFile(weights) || !sha256Of(weights).equalsIgnoreCase(m.sha256())) {
            throw new CheckpointException("checkpoint " + id + " is corrupt: " + weights.getFileName() + " does not match its sha256");
        }
        try {
            prepareExportFolder(target);
            if (m.isAdapter()) {
                Files.copy(dir.resolve(LoraAdapter.CONFIG), target.resolve(LoraAdapter.CONFIG));
                Files.copy(weights, target.resolve(LoraAdapter.WEIGHTS));
            } else {
                Files.copy(dir.resolve(CONFIG), target.resolve(CONFIG));
                Files.copy(weights, target.resolve(WEIGHTS));
            }
            copyTokenizerFiles(dir, target, LlamaConfig.read(dir.resolve(CONFIG)));
            return target;
        } catch (IOException e) {
            throw new CheckpointException("cannot export " + id + " to " + target + ": " + e.getMessage(), e);
        }
    }

    /**
     * Writes checkpoint {@code id} as a plain Hugging Face folder with every adapter of its lineage merged
     * into the weights (for a full checkpoint the same as {@link #exportHuggingFace}).
     */
    public Path exportMerged(String id, Path target) {
        if (metadata(id).map(m -> !m.isAdapter()).orElse(true)) {
            return exportHuggingFace(id, target);
        }
        try (NDManager manager = NDManager.newBaseManager(); LoadedCheckpoint merged = load(id, manager)) {
            prepareExportFolder(target);
            LlamaModel model = merged.model();
            Files.writeString(target.resolve(CONFIG), model.config().toJson(model.precision().weights()));
            writeTensors(target.resolve(WEIGHTS), model.parameters());
            copyTokenizerFiles(merged.directory(), target, model.config());
            return target;
        } catch (IOException e) {
            throw new CheckpointException("cannot export " + id + " to " + target + ": " + e.getMessage(), e);
        }
    }

    private static void prepareExportFolder(Path target) throws IOException {
        if (Files.exists(target)) {
            try (Stream<Path> inside = Files.list(target)) {
                if (inside.findAny().isPresent()) {
                    throw new CheckpointException("export folder " + target + " is not empty");
                }
            }
        }
        Files.createDirectories(target);
    }

    private static void copyTokenizerFiles(Path dir, Path target, LlamaConfig c) throws IOException {
        List<String> tokenizerFiles = new ArrayList<>(List.of(TOKENIZER));
        tokenizerFiles.addAll(TOKENIZER_COMPANIONS);
        for (String f : tokenizerFiles) {
            if (Files.isRegularFile(dir.resolve(f))) {
                Files.copy(dir.resolve(f), target.resolve(f));
            }
        }
        if (!Files.isRegularFile(target.resolve("generation_config.json"))) {
            Files.writeString(target.resolve("generation_config.json"), JSON.writerWithDefaultPrettyPrinter()
                    .writeValueAsString(Map.of("bos_token_id", c.bosTokenId(), "eos_token_id", c.eosTokenId(),
                            "pad_token_id", c.padTokenId())));
        }
    }

    /** Loads and verifies checkpoint {@code id} of this store. */
    public LoadedCheckpoint load(String id, NDManager manager) {
        return load(directoryOf(id), manager);
    }

    /** Loads and verifies the checkpoint folder {@code dir} as float32; an adapter comes merged into its base. */
    public static LoadedCheckpoint load(Path dir, NDManager manager) {
        return load(dir, manager, Precision.FLOAT32);
    }

    /** As {@link #load(Path, NDManager)}, the weights kept in {@code precision}. */
    public static LoadedCheckpoint load(Path dir, NDManager manager, Precision precision) {
        return load(dir, manager, precision, false, new java.util.HashSet<>());
    }

    /**
     * Loads checkpoint {@code dir} to go on training it: a LoRA adapter comes attached (trainable) to its
     * merged base instead of merged into it.
     */
    public static LoadedCheckpoint loadForTraining(Path dir, NDManager manager, Precision precision) {
        return load(dir, manager, precision, true, new java.util.HashSet<>());
    }

    /**
     * Where {@code dir} is a LoRA adapter over {@code base} (the checkpoint already loaded), merges only the
     * adapter into base's model, which it takes over (the caller no longer closes {@code base}); empty, and
     * base untouched, where it is anything else.
     */
    public static Optional<LoadedCheckpoint> loadOnto(Path dir, LoadedCheckpoint base) {
        CheckpointMetadata m = verified(dir);
        if (!m.isAdapter() || !m.baseId().equals(base.metadata().id()) || !m.baseSha256().equalsIgnoreCase(base.metadata().sha256())
                || base.model().adapter() != null) {
            return Optional.empty();
        }
        LlamaModel model = base.model();
        try (LoraAdapter adapter = readAdapter(dir, m, model.config(), model.manager())) {
            model.merge(adapter);
        }
        return Optional.of(new LoadedCheckpoint(model, m, dir));
    }

    private static LoadedCheckpoint load(Path dir, NDManager manager, Precision precision, boolean attach,
                                         java.util.Set<Path> visited) {
        CheckpointMetadata metadata = verified(dir);
        if (!metadata.isAdapter()) {
            return new LoadedCheckpoint(readModel(dir, List.of(dir.resolve(weightsName(metadata)).normalize()), manager,
                    c -> c, precision), metadata, dir);
        }
        if (!visited.add(dir.toAbsolutePath().normalize())) {
            throw new CheckpointException("checkpoint " + dir + " is refused: its chain of bases comes back to itself");
        }
        if (metadata.baseId() == null || !LEGAL_ID.matcher(metadata.baseId()).matches() || metadata.baseSha256() == null) {
            throw new CheckpointException("adapter " + dir + " is refused: base_id and base_sha256 must name its base checkpoint");
        }
        // The base lives beside the adapter, in the same store.
        Path baseDir = dir.toAbsolutePath().normalize().getParent().resolve(metadata.baseId());
        LoadedCheckpoint base = load(baseDir, manager, precision, false, visited);
        try {
            if (!base.metadata().sha256().equalsIgnoreCase(metadata.baseSha256())) {
                throw new CheckpointException("adapter " + dir + " is refused: its base " + metadata.baseId() + " has sha256 "
                        + base.metadata().sha256() + ", the adapter was trained on " + metadata.baseSha256());
            }
            LoraAdapter adapter = readAdapter(dir, metadata, base.model().config(), manager);
            if (attach) {
                base.model().attach(adapter);
            } else {
                try (adapter) {
                    base.model().merge(adapter);
                }
            }
            return new LoadedCheckpoint(base.model(), metadata, dir);
        } catch (RuntimeException e) {
            base.close();
            throw e;
        }
    }

    private static LoraAdapter readAdapter(Path dir, CheckpointMetadata m, LlamaConfig config, NDManager manager) {
        try {
            return LoraAdapter.read(dir.resolve(LoraAdapter.CONFIG), dir.resolve(weightsName(m)), config, manager);
        } catch (IOException e) {
            throw CheckpointException.missing("adapter " + dir + ": cannot read " + LoraAdapter.CONFIG + ": " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException("adapter " + dir + " is refused: " + e.getMessage(), e);
        }
    }

    private static String weightsName(CheckpointMetadata m) {
        return m.weightsFile() == null ? WEIGHTS : m.weightsFile();
    }

    /**
     * The metadata of the checkpoint folder {@code dir}, its weights (and training state) checked against their
     * sha256, without loading them: for a process that hands the folder to a model server.
     */
    public static CheckpointMetadata verify(Path dir) {
        return verified(dir);
    }

    /** The metadata of the checkpoint folder {@code dir}, its weights (and training state) checked against their sha256. */
    private static CheckpointMetadata verified(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw CheckpointException.missing("no checkpoint at " + dir);
        }
        Path metaFile = dir.resolve(METADATA);
        if (!Files.isRegularFile(metaFile)) {
            throw CheckpointException.missing("checkpoint " + dir + " is incomplete: " + METADATA
                    + " is missing (a write that never finished, or a Hugging Face folder: import it instead)");
        }
        CheckpointMetadata metadata;
        try {
            metadata = JSON.readValue(metaFile.toFile(), CheckpointMetadata.class);
        } catch (IOException e) {
            throw new CheckpointException("checkpoint " + dir + ": " + METADATA + " is unreadable: " + e.getMessage(), e);
        }
        String weightsName = weightsName(metadata);
        Path weights = dir.resolve(weightsName).normalize();
        if (!dir.normalize().equals(weights.getParent())) {
            throw new CheckpointException("checkpoint " + dir + " is refused: weights_file '" + weightsName
                    + "' is not a file of the checkpoint's own folder");
        }
        if (!Files.isRegularFile(weights)) {
            throw CheckpointException.missing("checkpoint " + dir + " is incomplete: " + weights.getFileName() + " is missing");
        }
        String actual = sha256Of(weights);
        if (!actual.equalsIgnoreCase(metadata.sha256())) {
            throw new CheckpointException("checkpoint " + dir + " is corrupt: sha256 of " + weights.getFileName() + " is "
                    + actual + ", its metadata says " + metadata.sha256());
        }
        // The files a service reads beside the weights (configuration, tokenizer, chat template): each as written, and
        // none added since (a tokenizer_config.json dropped in would bring a template of its own).
        if (!metadata.files().isEmpty()) {
            for (String name : COVERED) {
                Path f = dir.resolve(name);
                String expected = metadata.files().get(name);
                if (expected == null) {
                    if (Files.exists(f, LinkOption.NOFOLLOW_LINKS)) {
                        throw new CheckpointException("checkpoint " + dir + " is refused: " + name
                                + " is not covered by its checksums (added after the checkpoint was written)");
                    }
                } else if (!Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS) || !sha256Of(f).equalsIgnoreCase(expected)) {
                    throw new CheckpointException("checkpoint " + dir + " is corrupt: " + name
                            + " is missing or does not match its sha256");
                }
            }
        }
        if (metadata.trainingStateSha256() != null) {
            Path state = dir.resolve(TRAINING_STATE);
            if (!Files.isRegularFile(state) || !sha256Of(state).equalsIgnoreCase(metadata.trainingStateSha256())) {
                throw new CheckpointException("checkpoint " + dir + " is corrupt: " + TRAINING_STATE
                        + " is missing or does not match its sha256");
            }
        }
        return metadata;
    }

    /**
     * Loads a Hugging Face model folder as a user's model arrives (config.json, model.safetensors or a
     * sharded model.safetensors.index.json); there is no sha256 to check, so the caller saves it into a
     * store to make it a base checkpoint.
     */
    public static LlamaModel importHuggingFace(Path dir, NDManager manager) {
        return importHuggingFace(dir, manager, c -> c);
    }

    /** As {@link #importHuggingFace(Path, NDManager)}, with the config adjusted before the model is built. */
    public static LlamaModel importHuggingFace(Path dir, NDManager manager, java.util.function.UnaryOperator<LlamaConfig> adjust) {
        return readModel(dir, weightFiles(dir), manager, adjust, Precision.FLOAT32);
    }

    /** As {@link #importHuggingFace(Path, NDManager, java.util.function.UnaryOperator)}, the weights kept in {@code precision}. */
    public static LlamaModel importHuggingFace(Path dir, NDManager manager, java.util.function.UnaryOperator<LlamaConfig> adjust,
                                               Precision precision) {
        return readModel(dir, weightFiles(dir), manager, adjust, precision);
    }

    /** The weight files of a Hugging Face folder: model.safetensors, or the shards its index names (each must exist). */
    public static List<Path> weightFiles(Path dir) {
        Path index = dir.resolve("model.safetensors.index.json");
        List<Path> files = new ArrayList<>();
        if (FolderFiles.present(dir, WEIGHTS)) {
            files.add(FolderFiles.file(dir, WEIGHTS));
        } else if (FolderFiles.present(dir, index.getFileName().toString())) {
            try {
                JsonNode map = JSON.readTree(FolderFiles.file(dir, index.getFileName().toString()).toFile()).path("weight_map");
                for (JsonNode f : (Iterable<JsonNode>) map::elements) {
                    // A shard is a file of this folder, named as such: never a path out of it.
                    if (!FolderFiles.present(dir, f.asText())) {
                        throw new CheckpointException(dir.resolve(f.asText()) + " is missing (listed in " + index.getFileName() + ")");
                    }
                    Path p = FolderFiles.file(dir, f.asText());
                    if (!files.contains(p)) {
                        files.add(p);
                    }
                }
            } catch (IOException e) {
                throw new CheckpointException("cannot read " + index + ": " + e.getMessage(), e);
            }
        } else {
            throw new CheckpointException(dir + " holds neither " + WEIGHTS + " nor model.safetensors.index.json");
        }
        return files;
    }

    private static LlamaModel readModel(Path dir, List<Path> weightFiles, NDManager manager,
                                        java.util.function.UnaryOperator<LlamaConfig> adjust, Precision precision) {
        Path configFile = dir.resolve(CONFIG);
        if (!Files.isRegularFile(configFile)) {
            throw CheckpointException.missing("checkpoint " + dir + " is incomplete: " + CONFIG + " is missing");
        }
        LlamaConfig config;
        try {
            config = adjust.apply(LlamaConfig.read(configFile));
        } catch (IllegalArgumentException e) {
            throw new CheckpointException("checkpoint " + dir + ": " + e.getMessage(), e);
        }
        try (NDManager scratch = manager.newSubManager()) {
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            // Narrowed as they are read, so a half-precision base never exists in float32 as a whole.
            java.util.function.UnaryOperator<NDArray> narrow = t -> Precision.isFull(precision.weights())
                    || t.getDataType() == precision.weights() ? t : t.toType(precision.weights(), false);
            for (Path f : weightFiles) {
                tensors.putAll(Safetensors.read(f, scratch, narrow));
            }
            if (config.tieWordEmbeddings()) {
                tensors.remove("lm_head.weight"); // some exporters write the tied copy as well
            }
            NDArray embed = tensors.get("model.embed_tokens.weight");
            Precision p = precision.equals(Precision.FLOAT32) && embed != null && embed.getDataType() == ai.djl.ndarray.types.DataType.FLOAT64
                    ? Precision.FLOAT64 : precision; // a float64 checkpoint (gradient checks) stays float64
            try {
                return LlamaModel.adopt(config, manager, tensors, p);
            } catch (IllegalArgumentException e) {
                throw new CheckpointException("checkpoint " + dir + " does not match its config.json: " + e.getMessage(), e);
            }
        }
    }

    /** The metadata of checkpoint {@code id} as written, unverified (for choosing among checkpoints). */
    public Optional<CheckpointMetadata> metadata(String id) {
        try {
            return Optional.of(JSON.readValue(directoryOf(id).resolve(METADATA).toFile(), CheckpointMetadata.class));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Ids of the complete checkpoints (with metadata), oldest first by modification time. */
    public List<String> list() {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        try (Stream<Path> dirs = Files.list(root)) {
            return dirs.filter(d -> !d.getFileName().toString().startsWith(TEMP_PREFIX))
                    .filter(d -> Files.isRegularFile(d.resolve(METADATA)))
                    .sorted(Comparator.comparing(CheckpointStore::modified))
                    .map(d -> d.getFileName().toString())
                    .toList();
        } catch (IOException e) {
            throw new CheckpointException("cannot list " + root + ": " + e.getMessage(), e);
        }
    }

    public Optional<String> latest() {
        List<String> all = list();
        return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
    }

    private static long modified(Path p) {
        try {
            // The weights, not the metadata: dropping the optimiser state rewrites the metadata of an old checkpoint.
            Path weights = Files.exists(p.resolve(WEIGHTS)) ? p.resolve(WEIGHTS) : p.resolve(LoraAdapter.WEIGHTS);
            return Files.getLastModifiedTime(Files.exists(weights) ? weights : p.resolve(METADATA)).toMillis();
        } catch (IOException e) {
            return 0;
        }
    }

    /** The files beside the weights that a checkpoint's sha256 list covers (those present when it is written). */
    static final List<String> COVERED = List.of(CONFIG, TOKENIZER, "tokenizer_config.json", "special_tokens_map.json",
            "generation_config.json", LoraAdapter.CONFIG);

    private static Map<String, String> coveredFiles(Path dir) {
        Map<String, String> out = new TreeMap<>();
        for (String name : COVERED) {
            Path f = dir.resolve(name);
            if (Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
                out.put(name, sha256Of(f));
            }
        }
        return out;
    }

    public static String sha256Of(Path file) {
        MessageDigest digest = sha256();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 20];
            int n;
            while ((n = in.read(buf)) > 0) {
                digest.update(buf, 0, n);
            }
        } catch (IOException e) {
            throw CheckpointException.missing("cannot read " + file + ": " + e.getMessage(), e);
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void deleteQuietly(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort: a leftover temporary folder is ignored by list() and load()
        }
    }
}
