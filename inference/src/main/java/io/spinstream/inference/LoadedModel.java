package io.spinstream.inference;

import ai.djl.ndarray.NDManager;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.Precision;
import io.spinstream.model.checkpoint.CheckpointException;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.checkpoint.LoadedCheckpoint;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.model.tokenizer.SpinTokenizer;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A checkpoint loaded to answer: its model, its tokenizer with the prompt template, and the name it answers to.
 * What the services' opponents, {@code spin serve}, Lion's roles and the benchmarks load; the one place where a
 * checkpoint's files are checked against the sha256 that names them.
 *
 * @param id the name it answers to (its checkpoint id, or what a server calls it)
 */
public record LoadedModel(String id, LoadedCheckpoint checkpoint, SpinTokenizer tokenizer) implements AutoCloseable {

    /** The sha256 a caller expects of a checkpoint's weights, and who names it (for the refusal's message). */
    public record Expected(String sha256, String namedBy) {
    }

    /** Loads the checkpoint in {@code dir}, refused when {@code expected} names another sha256. */
    public static LoadedModel load(String id, Path dir, Optional<Expected> expected, NDManager manager, PromptTemplate template,
                                   Precision precision) {
        return ready(id, CheckpointStore.load(dir, manager, precision), expected, template, dir);
    }

    /**
     * The checkpoint in {@code dir} over {@code previous}, which it takes over (the caller no longer closes it): a LoRA
     * adapter trained over the previous model is read alone and merged into the model already loaded; empty (previous
     * untouched) when the checkpoint is not such an adapter.
     */
    public static Optional<LoadedModel> onto(String id, Path dir, LoadedModel previous, Optional<Expected> expected,
                                             PromptTemplate template) {
        Optional<LoadedCheckpoint> merged = CheckpointStore.loadOnto(dir, previous.checkpoint());
        if (merged.isEmpty()) {
            return Optional.empty();
        }
        previous.tokenizer().close();
        return Optional.of(ready(id, merged.get(), expected, template, dir));
    }

    /** The one check of a checkpoint's identity: its weights' sha256 is the one that names it, or it is refused. */
    public static void verify(String actualSha256, Expected expected, Path dir) {
        if (!actualSha256.equalsIgnoreCase(expected.sha256())) {
            throw new CheckpointException("checkpoint " + dir + " has sha256 " + actualSha256 + ", but " + expected.namedBy()
                    + " names " + expected.sha256());
        }
    }

    /** {@code checkpoint}, loaded from {@code dir}, when its sha256 is the expected one; else it is closed and refused. */
    public static LoadedCheckpoint verified(LoadedCheckpoint checkpoint, Expected expected, Path dir) {
        try {
            verify(checkpoint.metadata().sha256(), expected, dir);
            return checkpoint;
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    private static LoadedModel ready(String id, LoadedCheckpoint checkpoint, Optional<Expected> expected, PromptTemplate template,
                                     Path dir) {
        expected.ifPresent(e -> verified(checkpoint, e, dir));
        SpinTokenizer tokenizer = SpinTokenizer.load(checkpoint.tokenizerJson(), template, checkpoint.model().config().eosTokenId());
        return new LoadedModel(id, checkpoint, tokenizer);
    }

    /** The language model itself. */
    public LlamaModel llama() {
        return checkpoint.model();
    }

    @Override
    public void close() {
        tokenizer.close();
        checkpoint.close();
    }
}
