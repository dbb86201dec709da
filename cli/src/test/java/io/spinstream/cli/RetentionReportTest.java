package io.spinstream.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointRetention;
import io.spinstream.model.checkpoint.CheckpointStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code spin checkpoints --store}: which checkpoints the retention keeps, and why, on a real store. */
class RetentionReportTest {

    @Test
    void eachCheckpointOfTheStoreIsListedWithWhatRetentionDoesAndWhy(@TempDir Path dir) {
        CheckpointStore store = new CheckpointStore(dir);
        try (NDManager m = NDManager.newBaseManager();
             LlamaModel model = LlamaModel.random(LlamaConfig.tiny(20, 16, 1, 2, 2, 16), m, 1, DataType.FLOAT32)) {
            CheckpointMetadata base = store.save(model, null, CheckpointMetadata.of("base", null, 0, 0, null, null));
            store.save(model, null, CheckpointMetadata.of("r0-s1", "base", 0, 1, null, null));
            store.save(model, null, CheckpointMetadata.of("r0-s2", "base", 0, 2, null, null));
            try (io.spinstream.model.lora.LoraAdapter adapter = io.spinstream.model.lora.LoraAdapter.init(model.config(),
                    io.spinstream.model.lora.LoraConfig.of(2, 4), m, 1)) {
                model.attach(adapter);
                store.save(model, null, CheckpointMetadata.of("r0-s3", "base", 0, 3, null, null).adapterOver(base));
            }
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        CheckpointsCommand.printRetention(store, "base", Set.of("r0-s1"), new CheckpointRetention(0),
                new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertThat(out).contains("opponent in force: base, keep 0")
                .containsPattern("base +[0-9.]+ MB +kept, weights only +the opponent in force")
                .containsPattern("r0-s3 +[0-9.]+ MB +kept +the trainer's resume point +\\[a LoRA adapter over base\\]")
                .containsPattern("r0-s2 +[0-9.]+ MB +kept +a candidate of the current round not refused yet\n")
                .containsPattern("r0-s1 +[0-9.]+ MB +deleted at the next retention +refused");
    }
}
