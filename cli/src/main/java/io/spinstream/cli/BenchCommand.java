package io.spinstream.cli;

import io.spinstream.cli.bench.ModelBenchmark;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import io.spinstream.cli.bench.GateBench;
import io.spinstream.cli.bench.GeneratorBench;
import io.spinstream.cli.bench.ScaleBenchmark;
import io.spinstream.cli.bench.ServeBench;
import io.spinstream.cli.bench.TorchReferenceCheck;
import io.spinstream.demo.Ablation;
import io.spinstream.demo.AblationPlan;
import io.spinstream.demo.CoresetBench;
import io.spinstream.demo.DemoBase;
import io.spinstream.demo.DemoSetup;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.opponent.Opponent;
import io.spinstream.schemas.Prompt;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** {@code spin bench ...}: measurements, never tests. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks.",
        subcommands = {BenchCommand.Serve.class, BenchCommand.Model.class, BenchCommand.AblationBench.class, BenchCommand.Gate.class, BenchCommand.Scale.class,
                BenchCommand.Coreset.class, BenchCommand.Generator.class})
public final class BenchCommand implements Runnable {

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    @Command(name = "model", mixinStandardHelpOptions = true,
            description = "Training and generation tokens/s of the DJL model against PyTorch eager (Debian python3-torch).")
    static final class Model implements Callable<Integer> {
        @Option(names = "--threads", defaultValue = "2", description = "Threads on each side (default: ${DEFAULT-VALUE}).")
        int threads;

        @Option(names = "--rounds", defaultValue = "5", description = "Alternated rounds (default: ${DEFAULT-VALUE}).")
        int rounds;

        @Option(names = "--steps", defaultValue = "3", description = "Training steps per round (default: ${DEFAULT-VALUE}).")
        int steps;

        @Option(names = "--only-first", description = "Only the first configuration (hidden 256).")
        boolean onlyFirst;

        @Option(names = "--plot", defaultValue = "target/bench/model.png", description = "PNG of the results (default: ${DEFAULT-VALUE}).")
        Path plot;

        @Override
        public Integer call() throws Exception {
            String missing = TorchReferenceCheck.missing();
            if (missing != null) {
                System.err.println("spin bench model: the PyTorch reference cannot run: " + missing);
                return 2;
            }
            List<ModelBenchmark.Setup> setups = ModelBenchmark.defaultSetups();
            if (onlyFirst) {
                setups = setups.subList(0, 1);
            }
            new ModelBenchmark(threads, rounds, steps, System.out).run(setups, plot);
            return 0;
        }
    }

    @Command(name = "scale", mixinStandardHelpOptions = true,
            description = {"A model in the shape of Qwen2.5-0.5B (random weights, bf16) through spin init, generation, LoRA and full",
                    "fine-tuning steps, a LoRA candidate evaluated and hot-swapped into a generator, on this machine.",
                    "Last line: peak_rss_gib=X lora_train_tok_s=Y full_train_tok_s=Z gen_tok_s=W lora_ckpt_mb=A full_ckpt_mb=B swap_s=C"})
    static final class Scale implements Callable<Integer> {
        @Option(names = "--prompts", defaultValue = "8", description = "Prompts answered and pairs trained on (default: ${DEFAULT-VALUE}).")
        int prompts;

        @Option(names = "--new-tokens", defaultValue = "16", description = "Tokens generated per prompt (default: ${DEFAULT-VALUE}).")
        int newTokens;

        @Option(names = "--lora-steps", defaultValue = "3", description = "LoRA training steps (default: ${DEFAULT-VALUE}).")
        int loraSteps;

        @Option(names = "--full-steps", defaultValue = "2", description = "Full fine-tuning steps; 0 skips them (default: ${DEFAULT-VALUE}).")
        int fullSteps;

        @Option(names = "--rank", defaultValue = "16", description = "LoRA rank (default: ${DEFAULT-VALUE}).")
        int rank;

        @Option(names = "--shape", defaultValue = "qwen2.5-0.5b",
                description = "The published model whose shape is measured: qwen2.5-0.5b, qwen3-0.6b, llama3.2-1b or gemma3-1b"
                        + " (default: ${DEFAULT-VALUE}).")
        String shape;

        @Option(names = "--seq", defaultValue = "0",
                description = "Train on sequences of this many tokens (0: the short SPIN pairs of the generated answers).")
        int seq;

        @Option(names = "--batch", defaultValue = "4", description = "Sequences a training step with --seq (even: SPIN pairs;"
                + " default: ${DEFAULT-VALUE}).")
        int batch;

        @Option(names = "--dir", defaultValue = "target/bench/scale", description = "Work folder, emptied first (default: ${DEFAULT-VALUE}).")
        Path dir;

        @Option(names = "--plot", defaultValue = "target/bench/scale.png", description = "PNG of the results (default: ${DEFAULT-VALUE}).")
        Path plot;

        @Override
        public Integer call() throws Exception {
            ScaleBenchmark.Shape named;
            try {
                named = ScaleBenchmark.Shape.named(shape);
            } catch (IllegalArgumentException e) {
                System.err.println("spin bench scale: " + e.getMessage());
                return 2;
            }
            ScaleBenchmark bench;
            try {
                bench = new ScaleBenchmark(named, prompts, newTokens, loraSteps, fullSteps, rank, seq, batch,
                        System.out);
            } catch (IllegalArgumentException e) {
                System.err.println("spin bench scale: " + e.getMessage());
                return 2;
            }
            ScaleBenchmark.Result r = bench.run(dir, plot);
            System.out.println(r.lastLine(seq, batch));
            return 0;
        }
    }

    @Command(name = "generator", mixinStandardHelpOptions = true,
            description = {"The generator service on the real broker answering a stream of prompts end to end, for the demo model",
                    "and configurations A and B (random weights, 64 tokens an answer), with the default generator settings:",
                    "answers/s, generated tokens/s, the model's share of wall time, the generated tokens' FLOP rate against the",
                    "GEMM ceiling. Last line (configuration A): answers_per_s=X gen_tok_s=Y model_share=Z gemm_fraction=W"})
    static final class Generator implements Callable<Integer> {
        @Option(names = "--prompts-demo", defaultValue = "4000", description = "Prompts for the demo model (default: ${DEFAULT-VALUE}).")
        int promptsDemo;

        @Option(names = "--prompts-a", defaultValue = "1200", description = "Prompts for configuration A (default: ${DEFAULT-VALUE}).")
        int promptsA;

        @Option(names = "--prompts-b", defaultValue = "300", description = "Prompts for configuration B (default: ${DEFAULT-VALUE}).")
        int promptsB;

        @Option(names = "--set", paramLabel = "KEY=VALUE", description = "A generator setting for every configuration, e.g. --set spin.generator.batch.size=64.")
        Map<String, String> set = new LinkedHashMap<>();

        @Option(names = "--plot", defaultValue = "target/bench/generator.png", description = "PNG of the results (default: ${DEFAULT-VALUE}).")
        Path plot;

        @picocli.CommandLine.Mixin
        DemoOptions demo;

        @Override
        public Integer call() throws Exception {
            DemoSetup setup = demo.setup();
            DemoBase.Base base = demo.ensureBase(setup);
            List<Prompt> prompts = setup.prompts();
            List<GeneratorBench.Config> configs = new ArrayList<>();
            configs.add(new GeneratorBench.Config("demo: " + setup.model().describe(), setup.model().config(),
                    base.directory(), Math.min(promptsDemo, prompts.size()),
                    Map.of("spin.generator.max.new.tokens", Integer.toString(setup.task().maxAnswerTokens()))));
            configs.addAll(GeneratorBench.configurations(promptsA, promptsB));
            List<GeneratorBench.Result> results = GeneratorBench.runAll(configs,
                    prompts, set, demo.benchDir("generator"), plot, System.out);
            System.out.println(results.get(1).lastLine());
            return 0;
        }
    }

    @Command(name = "serve", mixinStandardHelpOptions = true,
            description = {"spin serve's chat endpoint on loopback with the demo base, asked by a bounded number of concurrent",
                    "clients, against the in-process generator on the same prompts with as many rows: generated tokens/s and",
                    "the requests' latency percentiles. Last line: serve_tok_s=X inproc_tok_s=Y ratio=Z p50_ms=A p95_ms=B"})
    static final class Serve implements Callable<Integer> {
        @Option(names = "--clients", defaultValue = "8", description = "Concurrent clients (default: ${DEFAULT-VALUE}).")
        int clients;

        @Option(names = "--requests", defaultValue = "400", description = "Requests in all (default: ${DEFAULT-VALUE}).")
        int requests;

        @Option(names = "--plot", defaultValue = "target/bench/serve.png", description = "PNG of the results (default: ${DEFAULT-VALUE}).")
        Path plot;

        @picocli.CommandLine.Mixin
        DemoOptions demo;

        @Override
        public Integer call() throws Exception {
            if (clients < 1 || requests < 1) {
                throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this), "--clients and --requests: expected >= 1");
            }
            DemoSetup setup = demo.setup();
            DemoBase.Base base = demo.ensureBase(setup);
            List<String> prompts = setup.prompts().stream().limit(requests).map(Prompt::getPrompt).toList();
            var promotion = Opponent.initial("bench", base.metadata(), base.directory());
            System.out.printf("%d requests, %d clients, the demo base (%s)...%n", prompts.size(), clients, setup.model().describe());
            ServeBench.Result r = ServeBench.run(promotion,
                    CheckpointLocation.ANYWHERE, prompts, clients, setup.task().maxAnswerTokens(), System.out);
            ServeBench.print(r, System.out);
            ServeBench.plot(r, plot);
            System.out.println("plot: " + plot.toAbsolutePath());
            System.out.println(r.lastLine());
            return 0;
        }
    }

    @Command(name = "coreset", mixinStandardHelpOptions = true,
            description = {"SFT from scratch on N prompts chosen by k-center (over the demo base's prompt embeddings), on N random",
                    "prompts and on all training prompts, the same steps each; test exact match with 95% intervals.",
                    "Last line: kcenter_em=X random_em=Y full_em=Z n=N"})
    static final class Coreset implements Callable<Integer> {
        @Option(names = "--n", defaultValue = "500", description = "Prompts chosen (default: ${DEFAULT-VALUE}).")
        int n;

        @Option(names = "--steps", defaultValue = "3000", description = "SFT steps of every arm (default: ${DEFAULT-VALUE}).")
        int steps;

        @Option(names = "--seed", defaultValue = "1", description = "Seed of k-means and of the random choice (default: ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--plot", defaultValue = "target/bench/coreset.png", description = "PNG of the results (default: ${DEFAULT-VALUE}).")
        Path plot;

        @picocli.CommandLine.Mixin
        DemoOptions demo;

        @Override
        public Integer call() throws Exception {
            DemoSetup setup = demo.setup();
            DemoBase.Base base = demo.ensureBase(setup);
            CoresetBench.Result r = new CoresetBench(setup, n, steps, seed, System.out)
                    .run(base, plot);
            System.out.println(r.lastLine());
            return 0;
        }
    }

    @Command(name = "ablation", mixinStandardHelpOptions = true,
            description = {"From the demo's converged base: continued SFT vs SPIN vs SPIN with an NLL term, gated and not,",
                    "and RAFT and RRHF on K = 4 verifier-rewarded samples; same rounds, prompts and batch size, several seeds.",
                    "With --labelled S the base is trained on that share and RAFT/RRHF get the rest without human answers.",
                    "Last line: sft_em=X spin_em=Y spin_nll_em=Z sft_test_em=... raft_test_em=... rrhf_test_em=..."})
    static final class AblationBench implements Callable<Integer> {
        @Option(names = "--rounds", defaultValue = "3", description = "Rounds (default: ${DEFAULT-VALUE}).")
        int rounds;

        @Option(names = "--seeds", defaultValue = "1,2", split = ",", description = "Seeds (default: ${DEFAULT-VALUE}).")
        List<Long> seeds;

        @Option(names = "--only", split = ",", description = "Only these variants (names as in the table).")
        List<String> only;

        @picocli.CommandLine.Mixin
        DemoOptions demo;

        @Override
        public Integer call() {
            DemoSetup setup = demo.setup();
            DemoBase.Base base = demo.ensureBase(setup);
            List<Ablation.Variant> variants = AblationPlan.variants().stream()
                    .filter(v -> only == null || only.contains(v.name())).toList();
            Path work = demo.benchDir("ablation");
            Ablation ablation = new Ablation(
                    AblationPlan.settings(rounds, seeds, work), System.out);
            List<Ablation.Run> runs = ablation.run(base, Ablation.Splits.of(setup), variants, work);
            String table = Ablation.table(runs);
            System.out.println();
            System.out.print(table);
            Path plot = work.resolve("ablation.png");
            AblationPlan.plot(runs, plot);
            System.out.println("plot: " + plot.toAbsolutePath());
            System.out.printf(Locale.ROOT, "sft_em=%.4f spin_em=%.4f spin_nll_em=%.4f sft_test_em=%.4f spin_nll_test_em=%.4f"
                            + " raft_test_em=%.4f rrhf_test_em=%.4f%n",
                    Ablation.meanFinal(runs, "sft"), Ablation.meanFinal(runs, "spin"),
                    Ablation.meanFinal(runs, "spin-nll"), Ablation.meanTest(runs, "sft"),
                    Ablation.meanTest(runs, "spin-nll"), Ablation.meanTest(runs, "raft"),
                    Ablation.meanTest(runs, "rrhf"));
            return 0;
        }
    }

    @Command(name = "gate", mixinStandardHelpOptions = true,
            description = {"Candidates from ablation rounds (ungated variants, so every candidate is kept) replayed through the",
                    "gate before paired tests and today's, against the test split neither read. Last line:",
                    "margin_false_promotions=X stat_false_promotions=Y margin_missed=Z stat_missed=W pairs=N (rates)."})
    static final class Gate implements Callable<Integer> {
        @Option(names = "--rounds", defaultValue = "3", description = "Rounds per run (default: ${DEFAULT-VALUE}).")
        int rounds;

        @Option(names = "--seeds", defaultValue = "1,2,3", split = ",", description = "Seeds (default: ${DEFAULT-VALUE}).")
        List<Long> seeds;

        @Option(names = "--variants", defaultValue = "sft,spin,spin-nll", split = ",",
                description = "Ablation variants whose candidates are replayed (default: ${DEFAULT-VALUE}).")
        List<String> variants;

        @picocli.CommandLine.Mixin
        DemoOptions demo;

        @Override
        public Integer call() {
            DemoSetup setup = demo.setup();
            DemoBase.Base base = demo.ensureBase(setup);
            Path work = demo.benchDir("gate");
            Ablation.Settings settings = AblationPlan.settings(rounds, seeds, work);
            List<Ablation.Variant> chosen = AblationPlan.variants().stream()
                    .filter(v -> variants.contains(v.name()) && !v.gated()).toList();
            Ablation.Splits splits = Ablation.Splits.of(setup);
            List<Ablation.Run> runs = new Ablation(settings, System.out).run(base, splits,
                    chosen, work);
            var judged = runs.stream().flatMap(r -> r.judged().stream()).toList();
            // The demo's gate as it was before paired tests: exact match up by 0.001, NLL down by at most 0.02.
            var margin = new GateBench.MarginGate(settings.gate().primary(), 0.001, settings.gate().guards());
            var outcome = GateBench.replay(judged, margin, settings.gate(), splits.heldOut().size());
            System.out.println();
            System.out.print(outcome.table());
            System.out.println(outcome.lastLine());
            return 0;
        }
    }
}
