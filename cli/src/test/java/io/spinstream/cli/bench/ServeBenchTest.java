package io.spinstream.cli.bench;

import ai.djl.ndarray.NDManager;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.tokenizer.ByteLevelBpe;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.opponent.Opponent;
import io.spinstream.runtime.testing.SpinFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code spin bench serve}'s whole path on a tiny model (the real run is a benchmark, never a test). */
class ServeBenchTest {

    @Test
    void everyRequestIsServedAndTheFiguresHold(@TempDir Path dir) throws Exception {
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        Path tokenizer = dir.resolve("tokenizer.json");
        ByteLevelBpe.write(tokenizer, ByteLevelBpe.bytesOnly());
        CheckpointMetadata base;
        try (NDManager m = NDManager.newBaseManager(); LlamaModel model = SpinFixtures.tinyModel(m, 5)) {
            base = store.save(model, tokenizer, CheckpointMetadata.of("served", null, 0, 0, null, null));
        }
        List<String> prompts = IntStream.range(0, 12).mapToObj(i -> i + "+" + (2 * i) + "=").toList();
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(text, true, StandardCharsets.UTF_8);
        ServeBench.Result r = ServeBench.run(Opponent.initial("bench", base, store.directoryOf(base.id())), CheckpointLocation.ANYWHERE,
                prompts, 3, 5, out);
        assertThat(r.requests()).isEqualTo(12);
        // At most 5 tokens an answer (fewer where EOS comes first); served and in-process: the same prompts and seeds.
        assertThat(r.servedTokens()).isPositive().isLessThanOrEqualTo(60L);
        assertThat(r.inProcessTokens()).isPositive().isLessThanOrEqualTo(60L);
        assertThat(r.p50()).isPositive().isLessThanOrEqualTo(r.p95());
        assertThat(r.p95()).isLessThanOrEqualTo(r.max());
        ServeBench.print(r, out);
        ServeBench.plot(r, dir.resolve("serve.png"));
        assertThat(text.toString(StandardCharsets.UTF_8)).contains("| spin serve (HTTP, loopback) | 12 | 3 |");
        assertThat(r.lastLine()).matches("serve_tok_s=\\S+ inproc_tok_s=\\S+ ratio=\\S+ p50_ms=\\S+ p95_ms=\\S+");
        assertThat(dir.resolve("serve.png")).isNotEmptyFile();
        assertThat(ServeBench.percentile(new double[]{1, 2, 3, 4}, 0.5)).isEqualTo(2);
        assertThat(ServeBench.percentile(new double[]{1, 2, 3, 4}, 0.95)).isEqualTo(4);
    }
}
