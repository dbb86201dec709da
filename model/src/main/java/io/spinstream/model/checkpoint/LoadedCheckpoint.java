package io.spinstream.model.checkpoint;

import io.spinstream.model.LlamaModel;

import java.nio.file.Path;

/** A checkpoint read back: its model (owned by the caller), its metadata and its folder. */
public record LoadedCheckpoint(LlamaModel model, CheckpointMetadata metadata, Path directory) implements AutoCloseable {

    public Path tokenizerJson() {
        return directory.resolve(CheckpointStore.TOKENIZER);
    }

    @Override
    public void close() {
        model.close();
    }
}
