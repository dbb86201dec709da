package io.spinstream.model.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.spinstream.model.testing.HfFolders;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** Tensors read in pieces come back whole, for every dtype, whatever the piece size. */
class SafetensorsChunkTest {

    @Test
    void aTensorReadInPiecesEqualsTheFile(@TempDir Path dir) {
        Random random = new Random(3);
        for (String dtype : List.of("F32", "BF16", "F16")) {
            Map<String, long[]> shapes = new LinkedHashMap<>();
            Map<String, float[]> values = new LinkedHashMap<>();
            shapes.put("big", new long[]{37, 11});
            shapes.put("small", new long[]{3});
            for (var e : shapes.entrySet()) {
                float[] v = new float[(int) (e.getValue()[0] * (e.getValue().length > 1 ? e.getValue()[1] : 1))];
                for (int i = 0; i < v.length; i++) {
                    // Values every dtype holds exactly: multiples of 1/8 below 16.
                    v[i] = (random.nextInt(256) - 128) / 8f;
                }
                values.put(e.getKey(), v);
            }
            Path file = dir.resolve(dtype + ".safetensors");
            try {
                HfFolders.writeSafetensors(file, List.of("big", "small"), shapes, values, dtype);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            for (long chunk : new long[]{6, 64, 1 << 20}) {
                try (NDManager m = NDManager.newBaseManager()) {
                    Map<String, NDArray> read = Safetensors.read(file, m, t -> t, chunk);
                    assertThat(read.get("big").getShape().getShape()).containsExactly(37, 11);
                    assertThat(read.get("big").getDataType()).isEqualTo(dtype.equals("F16") ? DataType.FLOAT16 : DataType.FLOAT32);
                    assertThat(read.get("big").toType(DataType.FLOAT32, false).toFloatArray()).as("%s in %d-byte pieces", dtype, chunk)
                            .containsExactly(values.get("big"));
                    assertThat(read.get("small").toType(DataType.FLOAT32, false).toFloatArray()).containsExactly(values.get("small"));
                }
            }
        }
    }
}
