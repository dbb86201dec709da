package io.spinstream.runtime.opponent;

import io.spinstream.model.checkpoint.CheckpointException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CheckpointLocationTest {

    @Test
    void aCheckpointUriMustLieInsideTheStore(@TempDir Path dir) throws Exception {
        Path store = Files.createDirectories(dir.resolve("store"));
        Path inside = Files.createDirectories(store.resolve("run-r0-s10"));
        Path outside = Files.createDirectories(dir.resolve("elsewhere"));
        CheckpointLocation location = CheckpointLocation.within(store);

        assertThat(location.resolve(inside.toUri().toString())).isEqualTo(inside.toAbsolutePath().normalize());
        assertThat(location.resolve(inside.toString())).as("a plain path too").isEqualTo(inside.toAbsolutePath().normalize());

        assertThatThrownBy(() -> location.resolve(store.toUri() + "run-r0-s10/../../elsewhere"))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("lies outside the checkpoint store")
                .satisfies(e -> assertThat(((CheckpointException) e).missing()).as("refused for good").isFalse());
        assertThatThrownBy(() -> location.resolve(outside.toUri().toString())).hasMessageContaining("outside the checkpoint store");
        assertThatThrownBy(() -> location.resolve(store.toString())).as("the root itself is no checkpoint")
                .hasMessageContaining("outside the checkpoint store");

        Path link = Files.createSymbolicLink(store.resolve("link"), outside);
        assertThatThrownBy(() -> location.resolve(link.toString())).hasMessageContaining("it leads to");

        assertThatThrownBy(() -> location.resolve("file://host/share/x")).hasMessageContaining("not a file URI or path");
        assertThat(CheckpointLocation.ANYWHERE.resolve(outside.toString())).isEqualTo(outside.toAbsolutePath().normalize());
    }
}
