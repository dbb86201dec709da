package io.spinstream.demo;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.spinstream.evaluator.gate.PairedTest;
import io.spinstream.evaluator.suite.Metric;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.checkpoint.LoadedCheckpoint;
import io.spinstream.model.coreset.CoresetSelection;
import io.spinstream.model.coreset.PromptEmbedder;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.model.tokenizer.SpinTokenizer;
import io.spinstream.schemas.Prompt;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code spin bench coreset}: SFT from scratch on N prompts chosen by k-center over the demo base's prompt
 * embeddings, on N random prompts, and on all training prompts, the same number of steps each, scored by
 * exact match on the test split (no decision reads it), each with its 95% interval, and k-center against
 * random paired prompt by prompt.
 */
public final class CoresetBench {

    /** One subset's SFT: its size, per-test-prompt exact match. */
    public record Arm(String name, int prompts, double[] testEm) {
        public double em() {
            return Arrays.stream(testEm).average().orElse(Double.NaN);
        }
    }

    public record Result(int n, Arm kCenter, Arm random, Arm full, PairedTest kCenterVsRandom) {
        public String lastLine() {
            return String.format(Locale.ROOT, "kcenter_em=%.4f random_em=%.4f full_em=%.4f n=%d", kCenter.em(), random.em(),
                    full.em(), n);
        }
    }

    private final DemoSetup setup;
    private final int n;
    private final int steps;
    private final long seed;
    private final PrintStream out;

    public CoresetBench(DemoSetup setup, int n, int steps, long seed, PrintStream out) {
        this.setup = setup;
        this.n = n;
        this.steps = steps;
        this.seed = seed;
        this.out = out;
    }

    public Result run(DemoBase.Base base, Path plot) throws IOException {
        List<Prompt> pool = setup.prompts().stream().filter(p -> setup.split().isTraining(p.getPromptId())).toList();
        List<Prompt> test = TestSplit.prompts(setup);
        List<Prompt> validation = setup.task().validationExamples().stream().map(e -> setup.task().toPrompt("validation", e)).toList();
        if (n < 1 || n > pool.size()) {
            throw new IllegalArgumentException("n must be from 1 to the " + pool.size() + " training prompts, got " + n);
        }
        long t0 = System.nanoTime();
        int[] kc;
        try (NDManager m = NDManager.newBaseManager(); LoadedCheckpoint b = CheckpointStore.load(base.directory(), m);
             SpinTokenizer tok = SpinTokenizer.load(b.tokenizerJson(), PromptTemplate.PLAIN, b.model().config().eosTokenId())) {
            List<int[]> ids = pool.stream().map(p -> tok.encode(p.getPrompt())).toList();
            int[] shown = {0};
            double[][] points = new PromptEmbedder(b.model(), 256).embed(m, ids, done -> {
                if (done - shown[0] >= pool.size() / 4 || done == pool.size()) {
                    out.printf("   embedding: %d/%d prompts%n", done, pool.size());
                    shown[0] = done;
                }
            });
            kc = CoresetSelection.kCenter(points, n, (n + 1) / 2, seed);
        }
        out.printf("k-center chose %d of %d training prompts in %.1f s (embeddings of base %s)%n", n, pool.size(),
                (System.nanoTime() - t0) / 1e9, base.metadata().id());
        int[] rnd = CoresetSelection.random(pool.size(), n, seed);
        Arm kCenter = arm("k-center", pick(pool, kc), validation, test);
        Arm random = arm("random", pick(pool, rnd), validation, test);
        Arm full = arm("all", pool, validation, test);
        PairedTest paired = PairedTest.better(Metric.EXACT_MATCH, kCenter.testEm(), random.testEm(), TestSplit.CONFIDENCE);
        Result r = new Result(n, kCenter, random, full, paired);
        table(r, test.size());
        if (plot != null) {
            plot(r, test.size(), plot);
            out.println("plot: " + plot.toAbsolutePath());
        }
        return r;
    }

    private static List<Prompt> pick(List<Prompt> pool, int[] indices) {
        return Arrays.stream(indices).mapToObj(pool::get).toList();
    }

    /** SFT from the same random start for exactly {@code steps} steps (no early stop), then test exact match. */
    private Arm arm(String name, List<Prompt> train, List<Prompt> validation, List<Prompt> test) throws IOException {
        long t0 = System.nanoTime();
        BaseTrainer.Settings d = setup.sft();
        BaseTrainer.Settings fixed = new BaseTrainer.Settings(d.lr(), d.batchSize(), steps, 1, d.minDelta(), steps, steps,
                Math.min(d.trainProbe(), train.size()), d.seed());
        Path tokenizerJson = Files.createTempFile("coreset-tokenizer", ".json");
        try (NDManager m = NDManager.newBaseManager();
             LlamaModel model = LlamaModel.random(setup.model().config(), m, d.seed(), DataType.FLOAT32)) {
            setup.model().writeTokenizer(tokenizerJson);
            try (SpinTokenizer tok = SpinTokenizer.load(tokenizerJson, PromptTemplate.PLAIN, model.config().eosTokenId())) {
                BaseTrainer trainer = new BaseTrainer(fixed, setup.task().maxAnswerTokens());
                trainer.train(model, tok, train, validation, line -> { });
                double[] em = trainer.exactMatches(model, tok, test);
                Arm arm = new Arm(name, train.size(), em == null ? new double[0] : em);
                out.printf("%-8s SFT on %5d prompts, %d steps: test exact match %.4f (%.0f s)%n", name, train.size(), steps,
                        arm.em(), (System.nanoTime() - t0) / 1e9);
                return arm;
            }
        } finally {
            Files.deleteIfExists(tokenizerJson);
        }
    }

    private void table(Result r, int testPrompts) {
        out.println();
        out.printf("| SFT from scratch, %d steps of %d | prompts | test exact match (%d prompts) | 95%% interval |%n", steps,
                setup.sft().batchSize(), testPrompts);
        out.println("|---|---|---|---|");
        for (Arm a : List.of(r.kCenter(), r.random(), r.full())) {
            double[] ci = TestSplit.interval(a.em(), a.testEm().length);
            out.printf(Locale.ROOT, "| %s | %d | %.4f | [%.4f, %.4f] |%n", a.name(), a.prompts(), a.em(), ci[0], ci[1]);
        }
        PairedTest t = r.kCenterVsRandom();
        String verdict = t.ciLow() > 0 ? "k-center better" : t.ciHigh() < 0 ? "k-center worse" : "not distinguishable";
        out.printf(Locale.ROOT, "k-center − random: %+.4f [%+.4f, %+.4f] (95%%, paired over the test prompts): %s%n",
                t.improvement(), t.ciLow(), t.ciHigh(), verdict);
    }

    private void plot(Result r, int testPrompts, Path file) throws IOException {
        CategoryChart chart = new CategoryChartBuilder().width(800).height(450)
                .title("SFT on " + r.n() + " chosen prompts vs all (" + steps + " steps each)")
                .yAxisTitle("test exact match (" + testPrompts + " prompts, 95% interval)").build();
        Map<String, Arm> arms = new LinkedHashMap<>();
        arms.put("k-center (" + r.n() + ")", r.kCenter());
        arms.put("random (" + r.n() + ")", r.random());
        arms.put("all (" + r.full().prompts() + ")", r.full());
        List<Double> ems = arms.values().stream().map(Arm::em).toList();
        List<Double> errors = arms.values().stream().map(a -> TestSplit.interval(a.em(), a.testEm().length)[1] - a.em()).toList();
        chart.addSeries("test exact match", List.copyOf(arms.keySet()), ems, errors);
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
    }
}
