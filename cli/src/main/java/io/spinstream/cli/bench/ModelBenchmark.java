package io.spinstream.cli.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.spinstream.generator.GeneratorKeys;
import io.spinstream.model.Generator;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.Sampling;
import io.spinstream.model.TokenBatch;
import io.spinstream.model.objective.Sft;
import io.spinstream.model.train.AdamW;
import io.spinstream.model.train.LearningRateSchedule;
import io.spinstream.model.train.PreferenceBatch;
import io.spinstream.model.train.TrainStep;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Training and generation throughput of the project's DJL model against a PyTorch eager implementation
 * of the same architecture and config, same thread count, runs alternated in one invocation; plus the
 * GEMM ceiling of the engine and the share of it training achieves. Generation runs at two batch sizes,
 * the same on both sides: the generator's default rows (what a user's generator runs, where the
 * preallocated KV cache matters) and the training batch (where both are bound by the same libtorch's
 * per-operation cost).
 */
public final class ModelBenchmark {

    /** One benchmark configuration. */
    public record Setup(String name, LlamaConfig config, int seq, int batch, int genPrompt, int genNew, int genRows) {
        static Setup of(String name, int vocab, int hidden, int layers, int heads, int seq, int batch) {
            LlamaConfig c = LlamaConfig.tiny(vocab, hidden, layers, heads, heads, 256).withEos(-1);
            return new Setup(name, c, seq, batch, 16, 64, Integer.parseInt(GeneratorKeys.BATCH_SIZE.defaultValue()));
        }

        /** Matmul FLOPs of one training step: forward linear layers and attention, backward twice that. */
        double trainFlopsPerStep() {
            LlamaConfig c = config;
            long d = c.hiddenSize();
            long kv = (long) c.numKvHeads() * c.headDim();
            long perLayer = d * d * 2 + d * kv * 2 + 3L * d * c.intermediateSize();
            double linear = 2.0 * (perLayer * c.numLayers() + d * c.vocabSize());
            double attention = 2.0 * 2.0 * seq * d * c.numLayers(); // QK^T and PV over all positions
            return 3.0 * (linear + attention) * seq * batch;
        }
    }

    /**
     * Medians per side; {@code javaGen}/{@code torchGen} at the generator's default rows, {@code javaGenSmall}/
     * {@code torchGenSmall} at the training batch's.
     */
    public record Row(String setup, int genRows, int smallRows, double javaTrain, double torchTrain, double javaGen, double torchGen,
                      double javaGenSmall, double torchGenSmall, double javaGemm, double torchGemm, double trainFlopRate) {
        double trainRatio() {
            return javaTrain / torchTrain;
        }

        double genRatio() {
            return javaGen / torchGen;
        }

        double genRatioSmall() {
            return javaGenSmall / torchGenSmall;
        }

        double gemmFraction() {
            return trainFlopRate / javaGemm;
        }
    }

    private final int threads;
    private final int rounds;
    private final int stepsPerRound;
    private final PrintStream out;

    public ModelBenchmark(int threads, int rounds, int stepsPerRound, PrintStream out) {
        this.threads = threads;
        this.rounds = rounds;
        this.stepsPerRound = stepsPerRound;
        this.out = out;
    }

    public static List<Setup> defaultSetups() {
        return List.of(Setup.of("A: vocab 512, hidden 256, 4 layers, 4 heads", 512, 256, 4, 4, 128, 16),
                Setup.of("B: vocab 512, hidden 512, 8 layers, 8 heads", 512, 512, 8, 8, 128, 16));
    }

    public List<Row> run(List<Setup> setups, Path plot) throws IOException {
        List<Row> rows = new ArrayList<>();
        for (Setup s : setups) {
            rows.add(run(s));
        }
        out.println();
        Row head = rows.get(0);
        out.printf("%-46s %12s %12s %7s %14s %12s %7s %14s %12s %7s %10s %10s %9s%n", "config", "train tok/s", "torch tok/s", "ratio",
                "gen@" + head.genRows() + " tok/s", "torch", "ratio", "gen@" + head.smallRows() + " tok/s", "torch", "ratio",
                "GEMM GF/s", "train GF/s", "of GEMM");
        for (Row r : rows) {
            out.printf("%-46s %12.0f %12.0f %7.2f %14.0f %12.0f %7.2f %14.0f %12.0f %7.2f %10.1f %10.1f %9.2f%n", r.setup(), r.javaTrain(),
                    r.torchTrain(), r.trainRatio(), r.javaGen(), r.torchGen(), r.genRatio(), r.javaGenSmall(), r.torchGenSmall(),
                    r.genRatioSmall(), r.javaGemm(), r.trainFlopRate(), r.gemmFraction());
        }
        out.printf("(gen@N: N rows generated together on both sides, %d-token prompts, %d new tokens, greedy; %d rows is the"
                + " generator's default batch)%n", setups.get(0).genPrompt(), setups.get(0).genNew(), head.genRows());
        out.printf("(PyTorch eager GEMM ceiling: %s GFLOP/s; medians of %d alternated rounds, %d threads each side)%n",
                rows.stream().map(r -> String.format("%.1f", r.torchGemm())).toList(), rounds, threads);
        if (plot != null) {
            plot(rows, plot);
            out.println("plot: " + plot.toAbsolutePath());
        }
        Row first = rows.get(0);
        out.printf("train_ratio=%.3f gen_ratio=%.3f gemm_fraction=%.3f gen_ratio_%drows=%.3f%n", first.trainRatio(), first.genRatio(),
                first.gemmFraction(), first.smallRows(), first.genRatioSmall());
        return rows;
    }

    private Row run(Setup s) throws IOException {
        out.printf("== %s: seq %d, batch %d, %d threads%n", s.name(), s.seq(), s.batch(), threads);
        try (NDManager manager = NDManager.newBaseManager();
             LlamaModel model = LlamaModel.random(s.config(), manager, 1, DataType.FLOAT32);
             TrainStep step = new TrainStep(model, new Sft(), new AdamW(0.9, 0.999, 1e-8, 0),
                     LearningRateSchedule.constant(1e-4), 0);
             TorchReference torch = TorchReference.start(s, threads)) {
            out.printf("   %,d parameters; reference: torch %s with %s threads on %s BLAS %s (OPENBLAS_NUM_THREADS=%s)%n",
                    model.parameterCount(), torch.hello.path("torch").asText(), torch.hello.path("threads").asText(),
                    torch.hello.path("blas").asText(), torch.hello.path("blas_libraries"),
                    torch.hello.path("openblas_threads").asText());
            TorchReference.requireOptimisedBlas(torch.hello);
            Random random = new Random(0);
            List<TokenBatch.Example> examples = new ArrayList<>();
            for (int b = 0; b < s.batch(); b++) {
                int[] seq = random.ints(s.seq() + 1, 3, s.config().vocabSize()).toArray();
                // One prompt token: every other position is scored, as in the reference's cross-entropy.
                examples.add(new TokenBatch.Example(new int[]{seq[0]}, Arrays.copyOfRange(seq, 1, seq.length)));
            }
            List<PreferenceBatch> batch = List.of(PreferenceBatch.sft(examples));
            List<int[]> prompts = new ArrayList<>();
            for (int b = 0; b < Math.max(s.batch(), s.genRows()); b++) {
                prompts.add(random.ints(s.genPrompt(), 3, s.config().vocabSize()).toArray());
            }
            List<int[]> many = prompts.subList(0, s.genRows());
            List<int[]> few = prompts.subList(0, s.batch());
            Generator generator = new Generator(model);
            Sampling greedy = Sampling.greedy(s.genNew());
            for (int i = 0; i < 3; i++) { // warm-up: JIT and libtorch's first-call costs stay out of the rounds
                step.step(batch);
                generator.generate(manager, few, greedy);
                generator.generate(manager, many, greedy);
            }

            double tokensPerStep = (double) s.seq() * s.batch();
            double[] javaTrain = new double[rounds];
            double[] torchTrain = new double[rounds];
            double[] javaGen = new double[rounds];
            double[] torchGen = new double[rounds];
            double[] javaGenSmall = new double[rounds];
            double[] torchGenSmall = new double[rounds];
            long started = System.nanoTime();
            for (int r = 0; r < rounds; r++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < stepsPerRound; i++) {
                    step.step(batch);
                }
                javaTrain[r] = tokensPerStep * stepsPerRound / seconds(t0);
                torchTrain[r] = tokensPerStep * stepsPerRound / torch.call("train " + stepsPerRound).path("seconds").asDouble();
                javaGen[r] = generated(generator, manager, many, greedy);
                torchGen[r] = generated(torch, many.size());
                javaGenSmall[r] = generated(generator, manager, few, greedy);
                torchGenSmall[r] = generated(torch, few.size());
                double elapsed = seconds(started);
                out.printf("   round %d/%d: train %.0f vs %.0f tok/s, gen@%d %.0f vs %.0f tok/s, gen@%d %.0f vs %.0f tok/s (ETA %.0f s)%n",
                        r + 1, rounds, javaTrain[r], torchTrain[r], many.size(), javaGen[r], torchGen[r], few.size(), javaGenSmall[r],
                        torchGenSmall[r], elapsed / (r + 1) * (rounds - r - 1));
            }
            double javaGemm = gemm(manager, 1024);
            double torchGemm = torch.call("gemm 1024").path("gflops").asDouble();
            double trainRate = s.trainFlopsPerStep() * median(javaTrain) / tokensPerStep / 1e9;
            return new Row(s.name(), many.size(), few.size(), median(javaTrain), median(torchTrain), median(javaGen), median(torchGen),
                    median(javaGenSmall), median(torchGenSmall), javaGemm, torchGemm, trainRate);
        }
    }

    /** Tokens/s of the project's generator answering {@code prompts} as one batch. */
    private static double generated(Generator generator, NDManager manager, List<int[]> prompts, Sampling sampling) {
        long t0 = System.nanoTime();
        int made = generator.generate(manager, prompts, sampling).stream().mapToInt(a -> a.length).sum();
        return made / seconds(t0);
    }

    /** Tokens/s of the reference answering {@code rows} prompts as one batch. */
    private static double generated(TorchReference torch, int rows) throws IOException {
        var g = torch.call("gen " + rows);
        return g.path("tokens").asDouble() / g.path("seconds").asDouble();
    }

    /** GFLOP/s of an n×n×n float32 matmul on this engine. */
    static double gemm(NDManager manager, int n) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray a = scope.randomNormal(new Shape(n, n));
            NDArray b = scope.randomNormal(new Shape(n, n));
            a.matMul(b).close();
            int reps = 5;
            long t0 = System.nanoTime();
            for (int i = 0; i < reps; i++) {
                NDArray c = a.matMul(b);
                c.toByteBuffer(); // force completion
                c.close();
            }
            return 2.0 * n * (double) n * n * reps / seconds(t0) / 1e9;
        }
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static void plot(List<Row> rows, Path file) throws IOException {
        CategoryChart chart = new CategoryChartBuilder().width(900).height(500)
                .title("Throughput: Spinstream (DJL) vs PyTorch eager").yAxisTitle("tokens/s").build();
        List<String> names = new ArrayList<>();
        for (Row r : rows) {
            String tag = r.setup().substring(0, 1);
            names.add(tag + " train");
            names.add(tag + " generate");
        }
        List<Double> java = new ArrayList<>();
        List<Double> torch = new ArrayList<>();
        for (Row r : rows) {
            java.addAll(List.of(r.javaTrain(), r.javaGen()));
            torch.addAll(List.of(r.torchTrain(), r.torchGen()));
        }
        chart.addSeries("Spinstream (DJL, libtorch " + Engine.getEngine("PyTorch").getVersion() + ")", names, java);
        chart.addSeries("PyTorch eager (Debian)", names, torch);
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
    }
}
