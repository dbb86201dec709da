package io.spinstream.cli.bench;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.spinstream.devstack.DevStack;
import io.spinstream.generator.GeneratorKeys;
import io.spinstream.generator.GeneratorMain;
import io.spinstream.generator.GeneratorService;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.tokenizer.ByteLevelBpe;
import io.spinstream.runtime.ServiceLauncher;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.health.MetricsServer;
import io.spinstream.runtime.kafka.PromptPublisher;
import io.spinstream.runtime.opponent.Opponent;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.TopicProvisioner;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * {@code spin bench generator}: the generator service, as its main builds it, on the real broker and
 * registry, answering a stream of N prompts with one checkpoint, end to end: from the promotion of the
 * checkpoint until every prompt's answer is committed. It reports answers/s, generated tokens/s, the
 * model's share of that wall time (generation and scoring, from the service's own
 * {@code spin.generator.model.time}; the rest is Kafka, serdes, rewards and batching) and the generated
 * tokens' FLOP rate against this engine's measured GEMM ceiling.
 */
public final class GeneratorBench {

    /**
     * One configuration: a model (random weights in {@code model}'s shape, or the checkpoint in
     * {@code checkpoint}), how many prompts, and the generator settings beside the defaults.
     */
    public record Config(String name, LlamaConfig model, Path checkpoint, int prompts, Map<String, String> settings) {
        /**
         * A random model of {@code model}'s shape: its answers run to max.new.tokens but for the rare EOS drawn
         * by chance (the answers are scored with their EOS, so it must be a real token); the tokens counted are
         * the ones generated.
         */
        public static Config random(String name, LlamaConfig model, int prompts, int maxNewTokens) {
            return new Config(name, model, null, prompts, Map.of("spin.generator.max.new.tokens", Integer.toString(maxNewTokens)));
        }
    }

    /** What one configuration measured. */
    public record Result(String config, int answers, double seconds, double modelSeconds, long tokens, double flopsPerToken,
                         double gemmGflops) {
        public double answersPerSecond() {
            return answers / seconds;
        }

        public double genTokensPerSecond() {
            return tokens / seconds;
        }

        public double modelShare() {
            return modelSeconds / seconds;
        }

        /** The generated tokens' forward FLOPs per second over the GEMM ceiling. */
        public double gemmFraction() {
            return tokens * flopsPerToken / seconds / 1e9 / gemmGflops;
        }

        public String lastLine() {
            return String.format(Locale.ROOT, "answers_per_s=%.1f gen_tok_s=%.0f model_share=%.3f gemm_fraction=%.4f",
                    answersPerSecond(), genTokensPerSecond(), modelShare(), gemmFraction());
        }
    }

    private final DevStack stack;
    private final Path dir;
    private final PrintStream out;
    private final Duration timeout;

    public GeneratorBench(DevStack stack, Path dir, PrintStream out, Duration timeout) {
        this.stack = stack;
        this.dir = dir;
        this.out = out;
        this.timeout = timeout;
    }

    /** The bench's configurations A and B (as {@code spin bench model}'s, with the byte-level vocabulary of 259). */
    public static List<Config> configurations(int promptsA, int promptsB) {
        return List.of(
                Config.random("A: vocab 259, hidden 256, 4 layers, 4 heads", LlamaConfig.tiny(259, 256, 4, 4, 4, 256), promptsA, 64),
                Config.random("B: vocab 259, hidden 512, 8 layers, 8 heads", LlamaConfig.tiny(259, 512, 8, 8, 8, 256), promptsB, 64));
    }

    /** Forward FLOPs of one generated token: the linear layers, and attention over {@code context} positions. */
    static double flopsPerToken(LlamaConfig c, double context) {
        long d = c.hiddenSize();
        long kv = (long) c.numKvHeads() * c.headDim();
        long perLayer = d * d * 2 + d * kv * 2 + 3L * d * c.intermediateSize();
        return 2.0 * (perLayer * c.numLayers() + d * c.vocabSize()) + 2.0 * 2.0 * context * d * c.numLayers();
    }

    public Result run(Config c, List<Prompt> prompts, double gemmGflops) throws Exception {
        Path work = dir.resolve(c.name().substring(0, 1) + "-" + UUID.randomUUID().toString().substring(0, 6));
        CheckpointStore store = new CheckpointStore(work.resolve("store"));
        CheckpointMetadata checkpoint = checkpoint(c, store, work);
        Map<String, String> values = new LinkedHashMap<>(c.settings());
        values.put("spin.bootstrap.servers", stack.bootstrapServers());
        values.put("spin.registry.url", stack.registryUrl());
        values.put("spin.topic.prefix", "gb" + UUID.randomUUID().toString().substring(0, 8));
        values.put("spin.run.id", "bench");
        values.put("spin.checkpoint.store", store.root().toAbsolutePath().toString());
        values.put("spin.heldout.share", "0"); // every prompt is answered
        values.put("spin.test.share", "0");
        values.put("spin.metrics.port", "0");
        ServiceConfig config = ServiceConfig.load(ServiceLauncher.keys(GeneratorKeys.all()), Map.of(), Optional.empty(), values);
        SpinContext context = SpinContext.from(config);
        try (Admin admin = Admin.create(context.kafka().admin())) {
            new TopicProvisioner(admin, context.registrar()).ensure(context.topics().fixed());
        }
        new PromptPublisher(context).publish("bench", prompts.subList(0, c.prompts()), n -> {
        });
        PrometheusMeterRegistry registry = MetricsServer.newRegistry();
        GeneratorService service = new GeneratorService(context, GeneratorMain.settings(config), registry);
        service.start();
        try {
            OpponentPromotion p = Opponent.initial("bench", checkpoint, store.directoryOf(checkpoint.id()));
            long t0 = System.nanoTime();
            try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(context.kafka().idempotentProducer())) {
                producer.send(context.topics().opponent().rawRecord("bench", p)).get();
            }
            Counter answered = registry.counter("spin.generator.prompts.answered");
            long deadline = t0 + timeout.toNanos();
            long lastLine = t0;
            while (answered.count() < c.prompts()) {
                if (service.failure() != null) {
                    throw new IllegalStateException("the generator failed: " + service.failure(), service.failure());
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException(String.format(Locale.ROOT, "%s: %.0f of %d prompts answered in %s", c.name(),
                            answered.count(), c.prompts(), timeout));
                }
                TimeUnit.MILLISECONDS.sleep(20);
                if (System.nanoTime() - lastLine > 5_000_000_000L) {
                    lastLine = System.nanoTime();
                    double s = (lastLine - t0) / 1e9;
                    double rate = answered.count() / s;
                    out.printf(Locale.ROOT, "  %s: %.0f/%d answered (%.1f/s, ETA %.0f s)%n", c.name().substring(0, 1), answered.count(),
                            c.prompts(), rate, (c.prompts() - answered.count()) / Math.max(rate, 1e-9));
                }
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            Timer model = registry.timer("spin.generator.model.time");
            long tokens = (long) registry.counter("spin.generator.tokens.generated").count();
            // Every configuration here reads byte-level tokens: a prompt's tokens are its UTF-8 bytes (plain template).
            double promptTokens = prompts.subList(0, c.prompts()).stream()
                    .mapToInt(q -> q.getPrompt().getBytes(java.nio.charset.StandardCharsets.UTF_8).length).average().orElse(0);
            double meanContext = promptTokens + (double) tokens / c.prompts() / 2; // halfway through an answer
            LlamaConfig shape = c.model();
            return new Result(c.name(), c.prompts(), seconds, model.totalTime(TimeUnit.NANOSECONDS) / 1e9, tokens,
                    flopsPerToken(shape, meanContext), gemmGflops);
        } finally {
            service.stop();
        }
    }

    private static CheckpointMetadata checkpoint(Config c, CheckpointStore store, Path work) throws IOException {
        if (c.checkpoint() != null) {
            Path in = store.copyIn(c.checkpoint());
            return store.metadata(in.getFileName().toString()).orElseThrow();
        }
        Files.createDirectories(work);
        Path tokenizer = work.resolve("tokenizer.json");
        ByteLevelBpe.write(tokenizer, ByteLevelBpe.bytesOnly());
        try (NDManager m = NDManager.newBaseManager(); LlamaModel model = LlamaModel.random(c.model(), m, 1, DataType.FLOAT32)) {
            return store.save(model, tokenizer, CheckpointMetadata.of("bench-" + c.name().substring(0, 1), null, 0, 0, null, null));
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /**
     * Every configuration in turn on a dev stack of its own, with {@code extra} generator settings on top of
     * each one's; prints progress, the table and the plot's path.
     */
    public static List<Result> runAll(List<Config> configs, List<Prompt> prompts, Map<String, String> extra, Path dir, Path plot,
                                      PrintStream out) throws Exception {
        double gemm = gemmCeiling();
        out.printf(Locale.ROOT, "GEMM ceiling of this engine: %.1f GFLOP/s (1024^3 float32 matmul)%n", gemm);
        List<Result> results = new java.util.ArrayList<>();
        out.println("starting the dev stack (Kafka broker + schema registry)...");
        try (DevStack stack = DevStack.start()) {
            GeneratorBench bench = new GeneratorBench(stack, dir, out, Duration.ofMinutes(20));
            for (Config c : configs) {
                Map<String, String> settings = new LinkedHashMap<>(c.settings());
                settings.putAll(extra);
                out.printf("%s: %d prompts...%n", c.name(), c.prompts());
                Result r = bench.run(new Config(c.name(), c.model(), c.checkpoint(), c.prompts(), settings), prompts, gemm);
                out.println("  " + r.lastLine());
                results.add(r);
            }
        }
        out.println();
        out.print(table(results));
        plot(results, plot);
        out.println("plot: " + plot.toAbsolutePath());
        return results;
    }

    /** The GEMM ceiling this engine reaches (GFLOP/s of a 1024³ float32 matmul), measured once. */
    public static double gemmCeiling() {
        try (NDManager m = NDManager.newBaseManager()) {
            return ModelBenchmark.gemm(m, 1024);
        }
    }

    /** Answers/s and the model's share of wall time per configuration, as a bar chart. */
    public static void plot(List<Result> results, Path file) throws IOException {
        org.knowm.xchart.CategoryChart chart = new org.knowm.xchart.CategoryChartBuilder().width(900).height(500)
                .title("spin bench generator: the generator service end to end").yAxisTitle("answers/s").build();
        List<String> names = results.stream().map(r -> r.config().substring(0, r.config().indexOf(':'))).toList();
        chart.addSeries("answers/s", names, results.stream().map(Result::answersPerSecond).toList());
        chart.addSeries("answers/s if only the model ran", names,
                results.stream().map(r -> r.answersPerSecond() / Math.max(r.modelShare(), 1e-9)).toList());
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        org.knowm.xchart.BitmapEncoder.saveBitmap(chart, file.toString(), org.knowm.xchart.BitmapEncoder.BitmapFormat.PNG);
    }

    public static String table(List<Result> results) {
        StringBuilder sb = new StringBuilder("| configuration | prompts | answers/s | generated tok/s | model share of wall time | GFLOP/s of generated tokens | of GEMM ceiling |\n"
                + "|---|---|---|---|---|---|---|\n");
        for (Result r : results) {
            sb.append(String.format(Locale.ROOT, "| %s | %d | %.1f | %.0f | %.3f | %.2f | %.4f |%n", r.config(), r.answers(),
                    r.answersPerSecond(), r.genTokensPerSecond(), r.modelShare(),
                    r.tokens() * r.flopsPerToken() / r.seconds() / 1e9, r.gemmFraction()));
        }
        return sb.toString();
    }
}
