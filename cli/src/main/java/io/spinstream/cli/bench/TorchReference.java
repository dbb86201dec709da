package io.spinstream.cli.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The PyTorch eager reference (Debian's python3-torch, run by /usr/bin/python3 with single-threaded
 * OpenBLAS) as a long-lived child process, so that its runs can alternate with the Java ones.
 */
final class TorchReference implements AutoCloseable {
    static final String PYTHON = "/usr/bin/python3";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Process process;
    private final BufferedReader out;
    private final Writer in;
    final JsonNode hello;

    private TorchReference(Process process) throws IOException {
        this.process = process;
        this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        this.in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        this.hello = readReply();
    }

    /** Says what to install when the reference cannot run here. */
    static String missing() {
        if (!Files.isExecutable(Path.of(PYTHON))) {
            return PYTHON + " is missing: apt-get install python3 python3-torch libopenblas0-pthread";
        }
        try {
            Process p = new ProcessBuilder(PYTHON, "-c", "import torch").redirectErrorStream(true).start();
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                return "Debian's PyTorch is missing: apt-get install python3-torch libopenblas0-pthread";
            }
        } catch (IOException | InterruptedException e) {
            return "cannot run " + PYTHON + ": " + e;
        }
        return null;
    }

    /**
     * Refuses a reference that runs on the reference BLAS (Debian's libblas3 when libopenblas0-pthread is absent, about
     * 25 times slower): a ratio against it would be printed as if it were PyTorch's speed.
     */
    static void requireOptimisedBlas(JsonNode hello) {
        String blas = hello.path("blas").asText("unknown");
        if (!blas.equals("openblas") && !blas.equals("mkl") && !blas.equals("blis")) {
            throw new IllegalStateException("the PyTorch reference runs on the " + blas + " BLAS " + hello.path("blas_libraries")
                    + ", not an optimised one: no ratio is printed against it. Install libopenblas0-pthread"
                    + " (apt-get install libopenblas0-pthread) and run again");
        }
    }

    static TorchReference start(ModelBenchmark.Setup s, int threads) throws IOException {
        Path script = Files.createTempFile("torch_llama", ".py");
        try (InputStream res = TorchReference.class.getResourceAsStream("torch_llama.py")) {
            Files.write(script, res.readAllBytes());
        }
        script.toFile().deleteOnExit();
        List<String> cmd = new ArrayList<>(List.of(PYTHON, script.toString(),
                "--vocab", "" + s.config().vocabSize(), "--hidden", "" + s.config().hiddenSize(),
                "--inter", "" + s.config().intermediateSize(), "--layers", "" + s.config().numLayers(),
                "--heads", "" + s.config().numHeads(), "--kv-heads", "" + s.config().numKvHeads(),
                "--seq", "" + s.seq(), "--batch", "" + s.batch(), "--threads", "" + threads,
                "--gen-prompt", "" + s.genPrompt(), "--gen-new", "" + s.genNew(),
                "--max-pos", "" + s.config().maxPositions()));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
        // Without OpenBLAS's own threads, as the reference is defined: torch's thread count is the one set.
        pb.environment().put("OPENBLAS_NUM_THREADS", "1");
        pb.environment().put("OMP_NUM_THREADS", "" + threads);
        return new TorchReference(pb.start());
    }

    JsonNode call(String command) throws IOException {
        in.write(command + "\n");
        in.flush();
        return readReply();
    }

    private JsonNode readReply() throws IOException {
        String line = out.readLine();
        if (line == null) {
            throw new IOException("the PyTorch reference exited (code " + (process.isAlive() ? "?" : process.exitValue()) + ")");
        }
        return JSON.readTree(line);
    }

    @Override
    public void close() {
        try {
            in.write("quit\n");
            in.flush();
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (IOException | InterruptedException ignored) {
            // it is going anyway
        } finally {
            process.destroyForcibly();
        }
    }
}
