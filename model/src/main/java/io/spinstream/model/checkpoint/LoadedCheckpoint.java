package io.spinstream.model.checkpoint;

import io.spinstream.model.LlamaModel;

import java.nio.file.Path;

/** A checkpoint read back: its model (owned by the caller), its metadata and its folder. */
public record LoadedCheckpoint(LlamaModel model, CheckpointMetadata metadata, Path directory) implements AutoCloseable {

    public Path tokenizerJson() {
        return directory.resolve(CheckpointStore.TOKENIZER);
    }

    /** The optimiser statistics saved with it (verified at load), or an empty map. */
    public java.util.Map<String, ai.djl.ndarray.NDArray> trainingState(ai.djl.ndarray.NDManager manager) {
        java.nio.file.Path file = directory.resolve(CheckpointStore.TRAINING_STATE);
        return java.nio.file.Files.isRegularFile(file) ? Safetensors.read(file, manager) : java.util.Map.of();
    }

    @Override
    public void close() {
        model.close();
    }
}
