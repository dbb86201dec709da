package io.spinstream.cli.bench;

import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.DevStack;
import io.spinstream.model.LlamaConfig;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.Prompt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** spin bench generator on a tiny model: every prompt answered through the service, the figures consistent. */
@BrokerTest
class GeneratorBenchTest {

    @Test
    void aRandomModelAnswersEveryPromptAtFullLengthAndTheFiguresAddUp(DevStack stack, @TempDir Path dir) throws Exception {
        List<Prompt> prompts = IntStream.range(0, 24).mapToObj(i -> SpinFixtures.prompt("bench", "b" + i, i + "+" + i + "=",
                String.valueOf(2 * i))).toList();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        GeneratorBench bench = new GeneratorBench(stack, dir, new PrintStream(bytes, true, StandardCharsets.UTF_8), Duration.ofMinutes(2));
        GeneratorBench.Config tiny = GeneratorBench.Config.random("T: tiny", LlamaConfig.tiny(259, 32, 2, 4, 2, 64), 24, 8);
        GeneratorBench.Result r = bench.run(tiny, prompts, 10.0);

        assertThat(r.answers()).isEqualTo(24);
        assertThat(r.tokens()).as("a random model's answers run to max.new.tokens but for the rare EOS drawn").isBetween(24L * 4, 24L * 8);
        assertThat(r.seconds()).isPositive();
        assertThat(r.modelShare()).isBetween(0.0, 1.0).isPositive();
        assertThat(r.answersPerSecond()).isCloseTo(24 / r.seconds(), within(1e-9));
        // Linear layers dominate: 2 × (2 layers × (2·32² + 2·32·16 + 3·32·128) + 32·259) = 78,016, plus attention.
        assertThat(r.flopsPerToken()).isGreaterThan(78_016).isLessThan(78_016 + 4.0 * 64 * 32 * 2);
        assertThat(r.gemmFraction()).isCloseTo(r.tokens() * r.flopsPerToken() / r.seconds() / 1e9 / 10.0, within(1e-12));
        assertThat(r.lastLine()).matches("answers_per_s=[0-9.]+ gen_tok_s=[0-9]+ model_share=0\\.[0-9]{3} gemm_fraction=[0-9.]+");
        assertThat(GeneratorBench.table(List.of(r))).contains("| T: tiny | 24 |");
        Path png = dir.resolve("g.png");
        GeneratorBench.plot(List.of(r), png);
        assertThat(Files.size(png)).isGreaterThan(1000);
    }
}
