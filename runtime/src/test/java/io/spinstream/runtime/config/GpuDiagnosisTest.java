package io.spinstream.runtime.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Which of driver, CUDA runtime and libtorch flavour keeps the GPU from the engine, told from the files themselves. */
class GpuDiagnosisTest {

    @Test
    void aDriverOnlyImageWithTheCpuLibtorchIsToldBothMissingParts(@TempDir Path root) throws IOException {
        Files.createDirectories(root.resolve("proc/driver/nvidia"));
        Files.writeString(root.resolve("proc/driver/nvidia/version"), "NVRM version: NVIDIA UNIX x86_64 Kernel Module  570.86.15\n");
        GpuDiagnosis d = GpuDiagnosis.probe(root, Map.of(), GpuDiagnosisTest.class.getClassLoader());
        assertThat(d.driver()).contains("570.86.15");
        assertThat(d.runtime()).isNull();
        assertThat(d.flavour()).as("the native jar on this classpath").isEqualTo("cpu");
        assertThat(d.explain()).contains("NVIDIA driver: NVRM version").contains("no libcudart.so found")
                .contains("the CPU libtorch");
    }

    @Test
    void aCudaImageIsSeenWholeAndANodeWithoutDriverIsNamed(@TempDir Path root) throws IOException {
        Path lib = Files.createDirectories(root.resolve("opt/libtorch"));
        Files.writeString(lib.resolve("libcudart.so.12"), "");
        GpuDiagnosis d = GpuDiagnosis.probe(root, Map.of("PYTORCH_LIBRARY_PATH", "/opt/libtorch", "PYTORCH_FLAVOR", "cu128"),
                GpuDiagnosisTest.class.getClassLoader());
        assertThat(d.runtime()).isEqualTo(lib.resolve("libcudart.so.12"));
        assertThat(d.flavour()).isEqualTo("cu128");
        assertThat(d.explain()).contains("NVIDIA driver: none loaded").contains("nvidia.com/gpu")
                .contains("CUDA runtime: " + lib.resolve("libcudart.so.12")).contains("libtorch: cu128");
    }
}
