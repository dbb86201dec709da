package io.spinstream.inference;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.Precision;
import io.spinstream.model.checkpoint.CheckpointException;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.tokenizer.ByteLevelBpe;
import io.spinstream.model.tokenizer.PromptTemplate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A checkpoint loaded to answer, and the one check of its identity. */
class LoadedModelTest {

    @Test
    void aCheckpointIsLoadedUnderItsNameAndRefusedWhenItsSha256IsNotTheOneThatNamesIt(@TempDir Path dir) {
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        Path tokenizer = dir.resolve("tokenizer.json");
        ByteLevelBpe.write(tokenizer, ByteLevelBpe.bytesOnly());
        CheckpointMetadata saved;
        try (NDManager m = NDManager.newBaseManager();
             LlamaModel model = LlamaModel.random(LlamaConfig.tiny(259, 32, 1, 4, 2, 64), m, 7, DataType.FLOAT32)) {
            saved = store.save(model, tokenizer, CheckpointMetadata.of("base", null, 0, 0, null, null));
        }
        Path folder = store.directoryOf("base");
        try (NDManager manager = NDManager.newBaseManager()) {
            try (LoadedModel served = LoadedModel.load("my-model", folder, Optional.of(new LoadedModel.Expected(saved.sha256(),
                    "the request")), manager, PromptTemplate.PLAIN, Precision.FLOAT32)) {
                assertThat(served.id()).isEqualTo("my-model");
                assertThat(served.checkpoint().metadata().sha256()).isEqualTo(saved.sha256());
                assertThat(served.llama().config().vocabSize()).isEqualTo(259);
                assertThat(served.tokenizer().decode(served.tokenizer().encode("1+2="))).isEqualTo("1+2=");
            }
            String other = "ab".repeat(32);
            assertThatThrownBy(() -> LoadedModel.load("base", folder, Optional.of(new LoadedModel.Expected(other,
                    "the promotion of base")), manager, PromptTemplate.PLAIN, Precision.FLOAT32))
                    .isInstanceOf(CheckpointException.class)
                    .hasMessage("checkpoint " + folder + " has sha256 " + saved.sha256() + ", but the promotion of base names " + other);
            assertThatThrownBy(() -> LoadedModel.verify(saved.sha256(), new LoadedModel.Expected(other, "the checkpoint event of c"),
                    folder)).hasMessageEndingWith("but the checkpoint event of c names " + other);
            LoadedModel.verify(saved.sha256().toUpperCase(), new LoadedModel.Expected(saved.sha256(), "a caller"), folder);
        }
    }
}
