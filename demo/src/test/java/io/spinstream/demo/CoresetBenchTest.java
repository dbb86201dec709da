package io.spinstream.demo;

import io.spinstream.schemas.HeldOutSplit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The coreset bench's whole path on a small task (the real one is a benchmark, never a test). */
class CoresetBenchTest {

    @Test
    void threeArmsAreTrainedTheSameStepsAndScoredOnTheTestSplit(@TempDir Path dir) throws Exception {
        DemoSetup setup = new DemoSetup(new ArithmeticTask(2, 400, 40, 5, true), "arith", new DemoModel(32, 1, 4, 16),
                new BaseTrainer.Settings(1e-2, 64, 50, 2, 0.0, 150, 300, 100, 1), new HeldOutSplit(0.2, "spin", 0.15));
        DemoBase.Base base = setup.base().ensure(dir.resolve("base"), line -> { });
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        CoresetBench.Result r = new CoresetBench(setup, 40, 60, 3, new PrintStream(text, true, StandardCharsets.UTF_8))
                .run(base, dir.resolve("coreset.png"));
        int tests = TestSplit.prompts(setup).size();
        assertThat(r.kCenter().prompts()).isEqualTo(40);
        assertThat(r.random().prompts()).isEqualTo(40);
        assertThat(r.full().prompts()).isGreaterThan(200);
        for (CoresetBench.Arm a : java.util.List.of(r.kCenter(), r.random(), r.full())) {
            assertThat(a.testEm()).hasSize(tests);
            assertThat(a.em()).isBetween(0.0, 1.0);
        }
        assertThat(r.kCenterVsRandom().n()).isEqualTo(tests);
        assertThat(r.lastLine()).matches("kcenter_em=[0-9.]+ random_em=[0-9.]+ full_em=[0-9.]+ n=40");
        String log = text.toString(StandardCharsets.UTF_8);
        assertThat(log).contains("k-center chose 40 of").containsPattern("k-center − random: .*: (k-center better|k-center worse|not distinguishable)");
        assertThat(dir.resolve("coreset.png")).isNotEmptyFile();
    }
}
