package io.spinstream.runtime.config;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;

/**
 * Why the engine sees no GPU, in the three places it can fail: the NVIDIA driver (the node's), the CUDA runtime
 * (DJL counts GPUs through libcudart, so an image with the driver alone reports none) and libtorch's flavour (the
 * CPU build reports none whatever the machine has).
 *
 * @param driver  the driver's version line, or null when none is loaded
 * @param runtime the libcudart found, or null
 * @param flavour libtorch's flavour (cpu, cu128, ...), or null when it cannot be told
 */
public record GpuDiagnosis(String driver, Path runtime, String flavour) {

    /** This machine, this process. */
    public static GpuDiagnosis probe() {
        return probe(Path.of("/"), System.getenv(), GpuDiagnosis.class.getClassLoader());
    }

    /** Under {@code root}, with {@code env}, libtorch's flavour from {@code classes}' native jar when not set in env. */
    static GpuDiagnosis probe(Path root, Map<String, String> env, ClassLoader classes) {
        String driver = null;
        Path version = root.resolve("proc/driver/nvidia/version");
        if (Files.isReadable(version)) {
            try (Stream<String> lines = Files.lines(version)) {
                driver = lines.findFirst().orElse("").trim();
            } catch (IOException e) {
                driver = null;
            }
        }
        List<Path> dirs = new ArrayList<>();
        for (String key : List.of("LD_LIBRARY_PATH", "PYTORCH_LIBRARY_PATH")) {
            for (String d : env.getOrDefault(key, "").split(":")) {
                if (!d.isBlank()) {
                    dirs.add(root.resolve(d.startsWith("/") ? d.substring(1) : d));
                }
            }
        }
        for (String d : List.of("usr/local/cuda/lib64", "usr/local/cuda/targets/x86_64-linux/lib", "usr/lib/x86_64-linux-gnu",
                "usr/lib64")) {
            dirs.add(root.resolve(d));
        }
        Path runtime = null;
        for (Path d : dirs) {
            if (runtime == null && Files.isDirectory(d)) {
                try (Stream<Path> files = Files.list(d)) {
                    runtime = files.filter(f -> f.getFileName().toString().startsWith("libcudart.so")).findFirst().orElse(null);
                } catch (IOException e) {
                    runtime = null;
                }
            }
        }
        String flavour = env.get("PYTORCH_FLAVOR");
        if (flavour == null) {
            try (InputStream in = classes.getResourceAsStream("native/lib/pytorch.properties")) {
                if (in != null) {
                    Properties p = new Properties();
                    p.load(in);
                    flavour = p.getProperty("flavor");
                }
            } catch (IOException e) {
                flavour = null;
            }
        }
        return new GpuDiagnosis(driver, runtime, flavour);
    }

    /** What is missing, each with what to do. */
    public String explain() {
        List<String> lines = new ArrayList<>();
        lines.add(driver != null ? "NVIDIA driver: " + driver
                : "NVIDIA driver: none loaded (no /proc/driver/nvidia/version): the node has no GPU driver, or the container"
                + " was given no GPU (Kubernetes: the NVIDIA device plugin and a nvidia.com/gpu limit)");
        lines.add(runtime != null ? "CUDA runtime: " + runtime
                : "CUDA runtime: no libcudart.so found: DJL counts GPUs through it, so an image with the driver alone reports"
                + " none; run the CUDA images (built on docker/cuda's base)");
        lines.add(flavour == null ? "libtorch: flavour unknown (set PYTORCH_FLAVOR with PYTORCH_LIBRARY_PATH)"
                : flavour.equals("cpu") ? "libtorch: the CPU libtorch (pytorch-native-cpu) is what this build carries; build the"
                + " CUDA images (mvn -Pcuda on docker/cuda's base)"
                : "libtorch: " + flavour);
        return String.join("; ", lines);
    }
}
