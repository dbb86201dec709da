package io.spinstream.model.checkpoint;

import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A hostile or corrupt safetensors file is refused from its header alone, before any tensor is allocated: the
 * header must describe the data exactly, as the format's reference parser requires.
 */
class SafetensorsLayoutTest {

    /** A file of {@code header} (JSON, written as is) and {@code dataBytes} zero bytes of data. */
    private static Path file(Path dir, String name, String header, int dataBytes) throws Exception {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
        out.write(h);
        out.write(new byte[dataBytes]);
        return Files.write(dir.resolve(name), out.toByteArray());
    }

    private static void refused(Path file, String reason) {
        try (NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> Safetensors.read(file, m)).isInstanceOf(CheckpointException.class)
                    .hasMessageContaining(reason);
            assertThatThrownBy(() -> Safetensors.checkComplete(file)).isInstanceOf(CheckpointException.class)
                    .hasMessageContaining(reason);
        }
    }

    @Test
    void aWellFormedFileReads(@TempDir Path dir) throws Exception {
        Path ok = file(dir, "ok.safetensors", """
                {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1, 1], "data_offsets": [8, 12]}}""", 12);
        try (NDManager m = NDManager.newBaseManager()) {
            assertThat(Safetensors.read(ok, m)).containsOnlyKeys("a", "b");
        }
    }

    @Test
    void overlapsHolesBadShapesAndTrailingBytesAreRefused(@TempDir Path dir) throws Exception {
        refused(file(dir, "overlap.safetensors", """
                {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}""", 12),
                "tensors overlap at byte 4");
        refused(file(dir, "hole.safetensors", """
                {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}""", 12),
                "tensors leave a hole at byte 4");
        refused(file(dir, "negative.safetensors", """
                {"a": {"dtype": "F32", "shape": [-1, 4], "data_offsets": [0, 16]}}""", 16),
                "each dimension must be a whole number >= 0");
        refused(file(dir, "overflow.safetensors", """
                {"a": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 16]}}""", 16),
                "whose size overflows");
        refused(file(dir, "mismatch.safetensors", """
                {"a": {"dtype": "F32", "shape": [1000000000], "data_offsets": [0, 16]}}""", 16),
                "which is not its shape's 4000000000 bytes");
        refused(file(dir, "trailing.safetensors", """
                {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}""", 8),
                "has 4 bytes after its tensors");
        refused(file(dir, "truncated.safetensors", """
                {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}""", 8),
                "is truncated");
    }
}
