package io.spinstream.demo;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.checkpoint.CheckpointException;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.checkpoint.LoadedCheckpoint;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.model.tokenizer.SpinTokenizer;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.Prompt;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The round-0 opponent: the demo model after SFT to convergence on the task's training prompts. Kept in
 * a store under a fingerprint of everything that shaped it, so a second demo reuses it (its sha256 is
 * checked on loading like any checkpoint) and a change of task, model or SFT settings trains a new one.
 */
public final class DemoBase {
    /** Bump when the way the base is made changes, so old bases are not reused. */
    private static final int RECIPE = 1;

    public record Base(CheckpointStore store, CheckpointMetadata metadata, boolean reused) {
        public Path directory() {
            return store.directoryOf(metadata.id());
        }

        public double heldOutEm() {
            return metadata.metrics().get("heldout_em");
        }
    }

    private final DemoSetup setup;
    private final ArithmeticTask task;
    private final DemoModel model;
    private final BaseTrainer.Settings sft;
    private final HeldOutSplit split;

    public DemoBase(DemoSetup setup) {
        this.setup = setup;
        this.task = setup.task();
        this.model = setup.model();
        this.sft = setup.sft();
        this.split = setup.split();
    }

    public String fingerprint() {
        // All labelled: the recipe of the bases made before the labelled share existed, so they are reused.
        String recipe = RECIPE + "|" + task + "|" + model + "|" + sft + "|" + split
                + (setup.labelled() >= 1 ? "" : "|labelled=" + setup.labelled());
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(recipe.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(h, 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The base under {@code root}: reused when a sound one exists, else trained and saved. */
    public Base ensure(Path root, Consumer<String> progress) {
        String id = "base-" + fingerprint();
        CheckpointStore store = new CheckpointStore(root.resolve(id));
        Optional<CheckpointMetadata> existing = store.metadata(id);
        if (existing.isPresent()) {
            try (NDManager m = NDManager.newBaseManager(); LoadedCheckpoint ignored = store.load(id, m)) {
                progress.accept("base " + id + " reused from " + store.directoryOf(id) + " (sha256 checked)");
                return new Base(store, existing.get(), true);
            } catch (CheckpointException e) {
                progress.accept("base " + id + " is unusable (" + e.getMessage() + "); training it again");
            }
        }
        return new Base(store, train(store, id, progress), false);
    }

    private CheckpointMetadata train(CheckpointStore store, String id, Consumer<String> progress) {
        List<Prompt> all = task.examples().stream().map(e -> task.toPrompt("base", e)).toList();
        List<Prompt> training = all.stream().filter(p -> split.isTraining(p.getPromptId()) && setup.isLabelled(p.getPromptId())).toList();
        List<Prompt> heldOut = all.stream().filter(p -> split.isHeldOut(p.getPromptId())).toList();
        List<Prompt> validation = task.validationExamples().stream().map(e -> task.toPrompt("validation", e)).toList();
        progress.accept(String.format("base: SFT of a %s on %d training prompts, early stopping on %d validation prompts",
                model.describe(), training.size(), validation.size()));
        try {
            Files.createDirectories(store.root());
            Path tokenizerJson = store.root().resolve("tokenizer.json");
            model.writeTokenizer(tokenizerJson);
            try (NDManager manager = NDManager.newBaseManager();
                 LlamaModel llama = LlamaModel.random(model.config(), manager, sft.seed(), DataType.FLOAT32);
                 SpinTokenizer tokenizer = SpinTokenizer.load(tokenizerJson, PromptTemplate.PLAIN, model.config().eosTokenId())) {
                BaseTrainer trainer = new BaseTrainer(sft, task.maxAnswerTokens());
                BaseTrainer.Result r = trainer.train(llama, tokenizer, training, validation, progress);
                double trainEm = trainer.exactMatch(llama, tokenizer, training);
                double heldOutEm = trainer.exactMatch(llama, tokenizer, heldOut);
                Map<String, Double> metrics = new LinkedHashMap<>();
                metrics.put("train_em", trainEm);
                metrics.put("validation_em", r.validationEm());
                metrics.put("heldout_em", heldOutEm);
                metrics.put("sft_steps", (double) r.steps());
                metrics.put("best_step", (double) r.bestStep());
                metrics.put("sft_seconds", r.took().toMillis() / 1000.0);
                CheckpointMetadata saved = store.save(llama, tokenizerJson, CheckpointMetadata.of(id, null, 0, r.bestStep(),
                        metrics, null));
                progress.accept(String.format("base %s: SFT stopped after %d steps (best at %d) in %.0f s; exact match"
                                + " train %.3f, validation %.3f, held-out %.3f", id, r.steps(), r.bestStep(),
                        r.took().toMillis() / 1000.0, trainEm, r.validationEm(), heldOutEm));
                RoundPlot.baseCurve(r.curve(), store.root().resolve("base-sft.png"));
                return saved;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
