package io.spinstream.serve;

import ai.djl.ndarray.NDManager;
import io.spinstream.inference.LoadedModel;
import io.spinstream.model.Precision;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.testing.SpinFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** At most --max-loras models are held beside the main one: the least recently used is unloaded (vLLM's rule). */
class ModelSlotAdaptersTest {

    @Test
    void theLeastRecentlyUsedAdapterIsUnloadedBeyondTheBound(@TempDir Path dir) throws Exception {
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        CheckpointMetadata base = SpinFixtures.tinyCheckpoint(store, dir, "base", 1);
        for (String id : new String[]{"a", "b", "c"}) {
            SpinFixtures.tinyCheckpoint(store, dir, id, id.charAt(0));
        }
        CheckpointLocation inStore = CheckpointLocation.within(store.root());
        try (NDManager manager = NDManager.newBaseManager();
             ModelSlot slot = ModelSlot.fixed(LoadedModel.load(base.id(), store.directoryOf("base"), Optional.empty(), manager, PromptTemplate.PLAIN, Precision.FLOAT32), manager, PromptTemplate.PLAIN, inStore)) {
            slot.maxAdapters(2);
            assertThat(slot.loadAdapter("a", store.directoryOf("a").toString())).isTrue();
            assertThat(slot.loadAdapter("b", store.directoryOf("b").toString())).isTrue();
            assertThat(slot.named("a")).isPresent(); // a used last: b is now the least recently used
            assertThat(slot.loadAdapter("c", store.directoryOf("c").toString())).isTrue();
            assertThat(slot.names()).containsExactly("base", "a", "c");
            assertThat(slot.named("b")).isEmpty();
            assertThatThrownBy(() -> slot.loadAdapter("outside", dir.resolve("tokenizer.json").toString()))
                    .as("a path outside the store").isInstanceOf(RuntimeException.class);
        }
    }
}
