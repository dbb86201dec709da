package io.spinstream.cli.bench;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spinstream.model.Generator;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.LogProbs;
import io.spinstream.model.NoGrad;
import io.spinstream.model.Precision;
import io.spinstream.model.Sampling;
import io.spinstream.model.TokenBatch;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.checkpoint.HfImport;
import io.spinstream.model.checkpoint.LoadedCheckpoint;
import io.spinstream.model.lora.LoraAdapter;
import io.spinstream.model.lora.LoraConfig;
import io.spinstream.model.objective.Objective;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.tokenizer.ByteLevelBpe;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.model.tokenizer.SpinTokenizer;
import io.spinstream.model.train.AdamW;
import io.spinstream.model.train.LearningRateSchedule;
import io.spinstream.model.train.PreferenceBatch;
import io.spinstream.model.train.StepResult;
import io.spinstream.model.train.TrainStep;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Locale;
import java.util.Random;
import java.util.TreeSet;
import io.spinstream.model.plan.MachineMemory;

/**
 * {@code spin bench scale}: the path a team's real model takes, at the size of a published model (Qwen2.5-0.5B by
 * default; Qwen3-0.6B, Llama 3.2 1B, Gemma 3 1B: random weights in its exact shape, bf16 on disk), on this machine: {@code spin init}, answers for a few
 * prompts, LoRA steps over a float16 base, the adapter written as a candidate, evaluated, and a generator
 * swapped to it by merging the adapter alone; then full fine-tuning steps in float32 for comparison.
 * Peak resident memory is read from the kernel ({@code VmHWM}) after the LoRA part and at the end.
 */
public final class ScaleBenchmark {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MICRO_PAIRS = 2;

    /**
     * A model's shape as its config.json states it (the published model's keys, random weights): what {@code spin bench
     * scale --shape} measures.
     */
    public record Shape(String name, String configJson) {
        /** Qwen2.5-0.5B: 494M parameters, tied embeddings, q/k/v bias. */
        public static final Shape QWEN25_05B = qwen2("Qwen2.5-0.5B", 151_936, 896, 24, 14, 2, 4864, true);
        /** Qwen3-0.6B: head_dim 128 apart from hidden/heads, q/k norms, tied. */
        public static final Shape QWEN3_06B = new Shape("Qwen3-0.6B", """
                {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 151936, "hidden_size": 1024,
                 "intermediate_size": 3072, "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8,
                 "head_dim": 128, "max_position_embeddings": 40960, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6,
                 "tie_word_embeddings": true, "attention_bias": false, "hidden_act": "silu", "use_sliding_window": false,
                 "sliding_window": null, "max_window_layers": 28, "bos_token_id": 1, "eos_token_id": 2}""");
        /** Llama 3.2 1B: llama3 rope scaling, GQA 32/8, tied. */
        public static final Shape LLAMA32_1B = new Shape("Llama-3.2-1B", """
                {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 128256, "hidden_size": 2048,
                 "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
                 "head_dim": 64, "max_position_embeddings": 131072, "rope_theta": 500000.0, "rms_norm_eps": 1e-5,
                 "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                  "original_max_position_embeddings": 8192, "rope_type": "llama3"},
                 "tie_word_embeddings": true, "attention_bias": false, "mlp_bias": false, "hidden_act": "silu",
                 "bos_token_id": 1, "eos_token_id": 2}""");
        /** Gemma 3 1B: 262k vocabulary, head_dim 256, five local layers to one global, q/k norms. */
        public static final Shape GEMMA3_1B = new Shape("Gemma-3-1B", """
                {"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", "vocab_size": 262144, "hidden_size": 1152,
                 "intermediate_size": 6912, "num_hidden_layers": 26, "num_attention_heads": 4, "num_key_value_heads": 1,
                 "head_dim": 256, "max_position_embeddings": 32768, "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0,
                 "query_pre_attn_scalar": 256, "sliding_window": 512, "sliding_window_pattern": 6, "rms_norm_eps": 1e-6,
                 "attn_logit_softcapping": null, "final_logit_softcapping": null, "hidden_activation": "gelu_pytorch_tanh",
                 "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0}""");
        /** Qwen2.5-1.5B: 1.54B parameters, tied. */
        public static final Shape QWEN25_15B = qwen2("Qwen2.5-1.5B", 151_936, 1536, 28, 12, 2, 8960, true);
        /** Llama 3.1 8B: llama3 rope scaling, GQA 32/8, an untied head. */
        public static final Shape LLAMA31_8B = new Shape("Llama-3.1-8B", """
                {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 128256, "hidden_size": 4096,
                 "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
                 "max_position_embeddings": 131072, "rope_theta": 500000.0, "rms_norm_eps": 1e-5,
                 "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                  "original_max_position_embeddings": 8192, "rope_type": "llama3"},
                 "tie_word_embeddings": false, "attention_bias": false, "mlp_bias": false, "hidden_act": "silu",
                 "bos_token_id": 128000, "eos_token_id": 128001}""");
        public static final Map<String, Shape> NAMED = Map.of("qwen2.5-0.5b", QWEN25_05B, "qwen3-0.6b", QWEN3_06B,
                "llama3.2-1b", LLAMA32_1B, "gemma3-1b", GEMMA3_1B, "qwen2.5-1.5b", QWEN25_15B, "llama3.1-8b", LLAMA31_8B);

        /** A Qwen2 shape (q/k/v bias) of the given sizes. */
        public static Shape qwen2(String name, int vocab, int hidden, int layers, int heads, int kvHeads, int intermediate,
                                  boolean tied) {
            return new Shape(name, String.format(Locale.ROOT, """
                    {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": %d, "hidden_size": %d,
                     "intermediate_size": %d, "num_hidden_layers": %d, "num_attention_heads": %d, "num_key_value_heads": %d,
                     "max_position_embeddings": 32768, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": %s,
                     "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2}""", vocab, hidden, intermediate, layers, heads,
                    kvHeads, tied));
        }

        /** The shape by its --shape name. */
        public static Shape named(String name) {
            Shape s = NAMED.get(name);
            if (s == null) {
                throw new IllegalArgumentException("--shape '" + name + "': expected one of "
                        + new TreeSet<>(NAMED.keySet()));
            }
            return s;
        }

        public LlamaConfig config() {
            return LlamaConfig.fromJson(configJson);
        }

        long parameters() {
            LlamaConfig c = config();
            return c.parameterCount();
        }
    }

    /** What one run measured. */
    public record Result(double peakRssLoraGib, double peakRssGib, double loraTrainTokS, double fullTrainTokS, double genTokS,
                         double loraCkptMb, double fullCkptMb, double swapS, double initS, double loadS, double evalS,
                         double baseNll, double candidateNll) {
        public String lastLine() {
            return String.format(Locale.ROOT,
                    "peak_rss_gib=%.2f lora_train_tok_s=%.1f full_train_tok_s=%.1f gen_tok_s=%.1f lora_ckpt_mb=%.1f"
                            + " full_ckpt_mb=%.1f swap_s=%.2f", peakRssLoraGib, loraTrainTokS, fullTrainTokS, genTokS, loraCkptMb,
                    fullCkptMb, swapS);
        }

        /** The last line with the training sequences' length and count. */
        public String lastLine(int seq, int batch) {
            return seq > 0 ? lastLine() + " seq=" + seq + " batch=" + batch : lastLine();
        }
    }

    private final Shape shape;
    private final int prompts;
    private final int newTokens;
    private final int loraSteps;
    private final int fullSteps;
    private final int rank;
    private final int seq;   // > 0: LoRA and full training on sequences of this many tokens
    private final int batch; // sequences per training step (batch / 2 SPIN pairs) when seq > 0
    private final PrintStream out;
    private final long started = System.nanoTime();

    public ScaleBenchmark(Shape shape, int prompts, int newTokens, int loraSteps, int fullSteps, int rank, PrintStream out) {
        this(shape, prompts, newTokens, loraSteps, fullSteps, rank, 0, 0, out);
    }

    /** With {@code seq} > 0, training runs on {@code batch} sequences of {@code seq} tokens a step (batch / 2 pairs). */
    public ScaleBenchmark(Shape shape, int prompts, int newTokens, int loraSteps, int fullSteps, int rank, int seq, int batch,
                          PrintStream out) {
        if (loraSteps < 1 || fullSteps < 0 || prompts < 1 || newTokens < 1) {
            throw new IllegalArgumentException("need prompts, new tokens and LoRA steps >= 1, full steps >= 0");
        }
        if (seq < 0 || (seq > 0 && (batch < 2 || batch % 2 != 0 || seq < 8))) {
            throw new IllegalArgumentException("--seq needs at least 8 tokens and --batch an even number of sequences"
                    + " (SPIN pairs: a human and an opponent answer each), got seq " + seq + ", batch " + batch);
        }
        this.seq = seq;
        this.batch = batch;
        this.shape = shape;
        this.prompts = prompts;
        this.newTokens = newTokens;
        this.loraSteps = loraSteps;
        this.fullSteps = fullSteps;
        this.rank = rank;
        this.out = out;
    }

    private double gemmGflops = Double.NaN;

    /** A FLOP rate as "X GFLOP/s = Y%" of the float32 GEMM ceiling measured on this machine. */
    private String ofCeiling(double flops) {
        return String.format(Locale.ROOT, "%.1f GFLOP/s = %.0f%% of %.1f", flops / 1e9, 100 * flops / 1e9 / gemmGflops,
                gemmGflops);
    }

    public Result run(Path work, Path plot) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            gemmGflops = ModelBenchmark.gemm(m, 1024);
        }
        phase("GEMM ceiling (1024×1024 float32 matmul): %.1f GFLOP/s", gemmGflops);
        deleteTree(work);
        Files.createDirectories(work);
        Path hf = work.resolve("hf-" + shape.name());
        phase("writing %s with random weights (%,d parameters, bf16) to %s", shape.name(), shape.parameters(), hf);
        long t = System.nanoTime();
        writeRandomFolder(hf);
        phase("written in %.1f s (%.0f MB)", seconds(t), Files.size(hf.resolve("model.safetensors")) / 1e6);

        CheckpointStore store = new CheckpointStore(work.resolve("store"));
        t = System.nanoTime();
        HfImport.Imported base;
        long total = HfImport.size(hf);
        try (NDManager m = NDManager.newBaseManager()) {
            long[] next = {0};
            base = HfImport.into(store, hf, m, read -> {
                if (read >= next[0]) {
                    out.printf("   init: %3.0f%% of %.0f MB read%n", 100.0 * read / total, total / 1e6);
                    next[0] += total / 4;
                }
            });
        }
        double initS = seconds(t);
        phase("spin init: base %s in %.1f s (%.0f MB in the store)", base.metadata().id(), initS, store.sizeOf(base.metadata().id()) / 1e6);

        Precision half = new Precision(DataType.FLOAT16, DataType.FLOAT32);
        double genTokS;
        double loraTokS;
        double loraMb;
        double evalS;
        double baseNll;
        double candNll;
        double swapS;
        double loadS;
        String candidateId = "scale-r1-lora";
        PreferenceBatch pairs; // the human answers against the generated ones: LoRA and full train on the same
        long pairTokens;
        try (NDManager manager = NDManager.newBaseManager()) {
            t = System.nanoTime();
            LoadedCheckpoint generator = CheckpointStore.load(base.directory(), manager, half);
            loadS = seconds(t);
            phase("generator: base loaded in %.1f s, weights float16, compute float32", loadS);
            SpinTokenizer tokenizer = SpinTokenizer.load(generator.tokenizerJson(), PromptTemplate.PLAIN,
                    generator.model().config().eosTokenId());
            List<String> questions = new ArrayList<>();
            List<String> human = new ArrayList<>();
            for (int i = 0; i < 2 * prompts; i++) {
                questions.add("What is " + (17 * i + 3) + " + " + (29 * i + 11) + "? ");
                human.add("It is " + (46 * i + 14) + ".");
            }
            List<int[]> promptIds = questions.subList(0, prompts).stream().map(tokenizer::encodePrompt).toList();
            warmUp(generator.model(), manager, promptIds);
            t = System.nanoTime();
            List<int[]> answers = generate(generator.model(), manager, promptIds);
            double genS = seconds(t);
            int generated = answers.stream().mapToInt(a -> a.length).sum();
            genTokS = generated / genS;
            phase("generation: %d prompts, %d tokens in %.1f s = %.1f tokens/s (%s of the GEMM ceiling)", prompts, generated, genS,
                    genTokS, ofCeiling(2.0 * shape.parameters() * genTokS));

            // The same weights computing in float16 (not the CPU default: a forward pass then converts no weight).
            try (LoadedCheckpoint f16 = CheckpointStore.load(base.directory(), manager, new Precision(DataType.FLOAT16, DataType.FLOAT16))) {
                warmUp(f16.model(), manager, promptIds);
                long t16 = System.nanoTime();
                int n16 = generate(f16.model(), manager, promptIds).stream().mapToInt(a -> a.length).sum();
                phase("generation computing in float16 instead: %.1f tokens/s", n16 / seconds(t16));
            }

            List<TokenBatch.Example> chosen = new ArrayList<>();
            List<TokenBatch.Example> rejected = new ArrayList<>();
            for (int i = 0; i < prompts; i++) {
                chosen.add(tokenizer.example(questions.get(i), human.get(i)));
                rejected.add(new TokenBatch.Example(promptIds.get(i), answers.get(i)));
            }
            int pad = generator.model().config().padTokenId();
            double[] refChosen = LogProbs.sums(generator.model(), manager, TokenBatch.of(chosen, pad));
            double[] refRejected = LogProbs.sums(generator.model(), manager, TokenBatch.of(rejected, pad));
            pairs = new PreferenceBatch(chosen, rejected, refChosen, refRejected);
            pairTokens = Stream.concat(chosen.stream(), rejected.stream()).mapToLong(TokenBatch.Example::length).sum();
            List<TokenBatch.Example> heldOut = new ArrayList<>();
            for (int i = prompts; i < 2 * prompts; i++) {
                heldOut.add(tokenizer.example(questions.get(i), human.get(i)));
            }
            baseNll = nll(generator.model(), manager, heldOut, pad);
            if (seq > 0) {
                pairs = longPairs(generator.model(), manager);
                pairTokens = (long) batch * seq;
                phase("training sequences: %d of %d tokens a step (%d SPIN pairs: a quarter prompt, three quarters answer)", batch,
                        seq, batch / 2);
            }

            // LoRA: the base frozen in float16, an adapter of rank r on every projection trained in float32.
            try (LoadedCheckpoint trained = CheckpointStore.load(base.directory(), manager, half)) {
                LoraAdapter adapter = LoraAdapter.init(trained.model().config(), new LoraConfig(rank, 2.0 * rank, 0,
                        LoraConfig.PROJECTIONS, false), trained.model().manager(), 1);
                trained.model().attach(adapter);
                trained.model().activationCheckpointing(true);
                trained.model().attentionBlock(512);
                phase("LoRA rank %d: %,d of %,d parameters trained (activation checkpointing, attention in blocks of 512)", rank,
                        adapter.parameterCount(), trained.model().parameterCount());
                // Forward 2N and the input gradients 2N per token; no weight gradients for the frozen base.
                Trained lora = trainAndSave("LoRA", trained, 1e-4, 4, pairs, pairTokens, loraSteps, store, CheckpointMetadata.of(candidateId,
                        base.metadata().id(), 1, loraSteps, Map.of(), Map.of()).adapterOver(base.metadata()));
                loraTokS = lora.tokensPerSecond();
                loraMb = lora.megabytes();
                adapter.close();
            }

            t = System.nanoTime();
            try (LoadedCheckpoint candidate = CheckpointStore.load(store.directoryOf(candidateId), manager, half)) {
                candNll = nll(candidate.model(), manager, heldOut, pad);
            }
            evalS = seconds(t);
            phase("evaluation: the candidate loaded merged and scored on %d held-out answers in %.1f s: NLL/token %.4f"
                    + " (base %.4f; random weights: the figures show the path works, not that it learns)", heldOut.size(), evalS,
                    candNll, baseNll);

            t = System.nanoTime();
            LoadedCheckpoint swapped = CheckpointStore.loadOnto(store.directoryOf(candidateId), generator)
                    .orElseThrow(() -> new IllegalStateException("the candidate is not an adapter over the generator's model"));
            swapS = seconds(t);
            List<int[]> after = generate(swapped.model(), manager, promptIds.subList(0, 1));
            phase("hot swap: the generator took %s by merging its adapter alone in %.2f s (then answered %d tokens)",
                    candidateId, swapS, after.get(0).length);
            tokenizer.close();
            swapped.close();
        }
        double peakLora = peakRssGib();
        phase("peak resident memory so far (init, generation, LoRA, evaluation, swap): %.2f GiB", peakLora);

        double fullTokS = Double.NaN;
        double fullMb = Double.NaN;
        if (fullSteps > 0) {
            try (NDManager manager = NDManager.newBaseManager();
                 LoadedCheckpoint full = CheckpointStore.load(base.directory(), manager, Precision.FLOAT32)) {
                full.model().activationCheckpointing(true);
                full.model().attentionBlock(512);
                phase("full fine-tuning: all %,d weights trained in float32 with AdamW", full.model().parameterCount());
                Trained whole = trainAndSave("full", full, 1e-5, 6, pairs, pairTokens, fullSteps, store,
                        CheckpointMetadata.of("scale-r1-full", base.metadata().id(), 1, fullSteps, Map.of(), Map.of()));
                fullTokS = whole.tokensPerSecond();
                fullMb = whole.megabytes();
            }
        }
        double peak = peakRssGib();
        Result r = new Result(peakLora, peak, loraTokS, fullTokS, genTokS, loraMb, fullMb, swapS, initS, loadS, evalS, baseNll, candNll);
        table(r);
        if (plot != null) {
            plot(r, plot);
            out.println("plot: " + plot.toAbsolutePath());
        }
        return r;
    }

    private record Trained(double tokensPerSecond, double megabytes) {
    }

    /**
     * SPIN steps on {@code pairs}, their rate against the GEMM ceiling ({@code flopsPerToken} × N FLOPs per
     * token), then the candidate written with its optimiser state: its size.
     */
    private Trained trainAndSave(String what, LoadedCheckpoint model, double lr, int flopsPerToken, PreferenceBatch pairs,
                                 long pairTokens, int steps, CheckpointStore store, CheckpointMetadata metadata) {
        try (TrainStep step = new TrainStep(model.model(), Objective.parse("spin:lambda=0.1"), new AdamW(0.9, 0.999, 1e-8, 0),
                LearningRateSchedule.constant(lr), 1.0)) {
            double tokS = train(what, step, pairs, pairTokens, steps);
            // Attention's own FLOPs, causal (half the keys on average): q·kᵀ and p·v, forward and input gradients (3×).
            LlamaConfig c = shape.config();
            double length = (double) pairTokens / (2 * pairs.size());
            double attention = 3 * 4 * (length / 2) * c.numHeads() * c.headDim() * c.numLayers();
            phase("%s training: %.1f tokens/s (%s of the GEMM ceiling, counting %dN FLOPs per token and %.2f GFLOP of"
                            + " attention per token; activation checkpointing's recomputation not counted)", what, tokS,
                    ofCeiling(((double) flopsPerToken * shape.parameters() + attention) * tokS), flopsPerToken, attention / 1e9);
            long t = System.nanoTime();
            CheckpointMetadata saved;
            try (NDManager scope = model.model().manager().newSubManager()) {
                saved = store.save(model.model(), model.tokenizerJson(), metadata, step.state(scope));
            }
            double mb = store.sizeOf(saved.id()) / 1e6;
            phase("%s candidate %s written in %.1f s: %.1f MB (%s and its optimiser state)", what, saved.id(), seconds(t), mb,
                    model.model().adapter() != null ? "the adapter" : "every weight");
            return new Trained(tokS, mb);
        }
    }

    /**
     * batch / 2 SPIN pairs of seq tokens each: a prompt of a quarter of them, a human and an opponent answer of the
     * rest (random tokens: the work of a step does not depend on them), with the opponent's log-probs.
     */
    private PreferenceBatch longPairs(LlamaModel opponent, NDManager manager) {
        Random random = new Random(2026);
        int vocab = opponent.config().vocabSize();
        int promptLen = seq / 4;
        List<TokenBatch.Example> chosen = new ArrayList<>();
        List<TokenBatch.Example> rejected = new ArrayList<>();
        for (int i = 0; i < batch / 2; i++) {
            int[] prompt = random.ints(promptLen, 3, vocab).toArray();
            chosen.add(new TokenBatch.Example(prompt, random.ints(seq - promptLen, 3, vocab).toArray()));
            rejected.add(new TokenBatch.Example(prompt, random.ints(seq - promptLen, 3, vocab).toArray()));
        }
        int pad = opponent.config().padTokenId();
        return new PreferenceBatch(chosen, rejected, LogProbs.sums(opponent, manager, TokenBatch.of(chosen, pad)),
                LogProbs.sums(opponent, manager, TokenBatch.of(rejected, pad)));
    }

    /** Two tokens for one prompt, before a timed generation: the engine's first calls are slower. */
    private static void warmUp(LlamaModel model, NDManager manager, List<int[]> ids) {
        try (NoGrad ignored = NoGrad.enter(); NDManager scope = manager.newSubManager()) {
            new Generator(model).generate(scope, ids.subList(0, 1), new Sampling(1.0f, 1.0f, 2, 7));
        }
    }

    private List<int[]> generate(LlamaModel model, NDManager manager, List<int[]> ids) {
        try (NoGrad ignored = NoGrad.enter(); NDManager scope = manager.newSubManager()) {
            return new Generator(model).generate(scope, ids, new Sampling(1.0f, 1.0f, newTokens, 7));
        }
    }

    private static double nll(LlamaModel model, NDManager manager, List<TokenBatch.Example> examples, int pad) {
        TokenBatch batch = TokenBatch.of(examples, pad);
        double[] sums = LogProbs.sums(model, manager, batch);
        double total = 0;
        for (double s : sums) {
            total -= s;
        }
        return total / batch.responseTokens();
    }

    /**
     * Training steps on the same pairs, in micro-batches of two pairs (activations of a quarter of the step
     * at a time; the gradient is the same); tokens/s over the steps after the first (which warms up).
     */
    private double train(String what, TrainStep step, PreferenceBatch pairs, long tokensPerStep, int steps) {
        List<PreferenceBatch> micro = new ArrayList<>();
        for (int from = 0; from < pairs.size(); from += MICRO_PAIRS) {
            int to = Math.min(pairs.size(), from + MICRO_PAIRS);
            micro.add(new PreferenceBatch(pairs.chosen().subList(from, to), pairs.rejected().subList(from, to),
                    Arrays.copyOfRange(pairs.refChosen(), from, to), Arrays.copyOfRange(pairs.refRejected(), from, to)));
        }
        double timed = 0;
        long timedTokens = 0;
        long phaseStart = System.nanoTime();
        for (int i = 0; i < steps; i++) {
            long t = System.nanoTime();
            StepResult r = step.step(micro);
            double s = seconds(t);
            if (i > 0 || steps == 1) {
                timed += s;
                timedTokens += tokensPerStep;
            }
            double eta = seconds(phaseStart) / (i + 1) * (steps - i - 1);
            out.printf("   %s step %d/%d: loss %.4f, %.1f s, %.1f tokens/s (ETA %.0f s)%n", what, i + 1, steps, r.loss(), s,
                    tokensPerStep / s, eta);
        }
        return timedTokens / timed;
    }

    private void table(Result r) {
        out.println();
        out.printf("| %s, 2 cores | value |%n|---|---|%n", shape.name());
        out.printf("| peak resident memory, up to LoRA and the swap | %.2f GiB |%n", r.peakRssLoraGib());
        out.printf("| peak resident memory, with full fine-tuning | %.2f GiB |%n", r.peakRssGib());
        out.printf("| generation (%d prompts, float16 weights) | %.1f tokens/s |%n", prompts, r.genTokS());
        out.printf("| LoRA training (rank %d) | %.1f tokens/s |%n", rank, r.loraTrainTokS());
        out.printf("| full fine-tuning | %.1f tokens/s |%n", r.fullTrainTokS());
        out.printf("| LoRA candidate | %.1f MB |%n", r.loraCkptMb());
        out.printf("| full candidate | %.1f MB |%n", r.fullCkptMb());
        out.printf("| spin init / load (float16) / evaluate / swap | %.1f s / %.1f s / %.1f s / %.2f s |%n", r.initS(), r.loadS(),
                r.evalS(), r.swapS());
        out.printf("(took %.1f min)%n", seconds(started) / 60);
    }

    private void plot(Result r, Path file) throws IOException {
        CategoryChart chart = new CategoryChartBuilder().width(900).height(450)
                .title(shape.name() + " shape on this machine: tokens/s").yAxisTitle("tokens/s").build();
        chart.addSeries("tokens/s", List.of("generate", "LoRA train", "full train"),
                List.of(r.genTokS(), r.loraTrainTokS(), Double.isNaN(r.fullTrainTokS()) ? 0 : r.fullTrainTokS()));
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    /**
     * The Hugging Face folder: config.json, model.safetensors (BF16, N(0, 0.02) weights, unit norms, zero biases, under
     * the family's tensor names), a byte-level tokenizer.
     */
    void writeRandomFolder(Path dir) throws IOException {
        Files.createDirectories(dir);
        ObjectNode c = (ObjectNode) JSON.readTree(shape.configJson());
        c.put("torch_dtype", "bfloat16");
        Files.writeString(dir.resolve("config.json"), c.toPrettyString());
        ByteLevelBpe.write(dir.resolve("tokenizer.json"), ByteLevelBpe.bytesOnly());
        LlamaConfig config = shape.config();
        float unit = config.family().unitOffsetNorm() ? 0f : 1f; // Gemma's norms are stored as offsets from one
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (String name : config.parameterNames()) {
            shapes.put(name, config.shapeOf(name));
        }
        // The header first (offsets from the shapes), then each tensor's values drawn and written as they come.
        ObjectNode header = JSON.createObjectNode();
        header.putObject("__metadata__").put("format", "pt");
        long offset = 0;
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long n = count(e.getValue());
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", "BF16");
            var s = t.putArray("shape");
            for (long d : e.getValue()) {
                s.add(d);
            }
            t.putArray("data_offsets").add(offset).add(offset + 2 * n);
            offset += 2 * n;
        }
        byte[] h = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        SplittableRandom random = new SplittableRandom(2026);
        try (OutputStream o = new BufferedOutputStream(Files.newOutputStream(dir.resolve("model.safetensors")), 1 << 20)) {
            o.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
            o.write(h);
            ByteBuffer chunk = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            for (Map.Entry<String, long[]> e : shapes.entrySet()) {
                String name = e.getKey();
                long n = count(e.getValue());
                boolean norm = name.endsWith("norm.weight");
                boolean bias = name.endsWith(".bias");
                for (long i = 0; i < n; i++) {
                    float v = norm ? unit : bias ? 0f : (float) (random.nextGaussian() * 0.02);
                    chunk.putShort((short) (Float.floatToIntBits(v) >>> 16)); // bf16: the top half of the float's bits
                    if (!chunk.hasRemaining()) {
                        o.write(chunk.array(), 0, chunk.position());
                        chunk.clear();
                    }
                }
            }
            o.write(chunk.array(), 0, chunk.position());
        }
    }

    private static long count(long[] dims) {
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        return n;
    }

    /** The process's peak resident set (VmHWM) in GiB; NaN where /proc is not there. */
    static double peakRssGib() {
        return rssGib("VmHWM:");
    }

    private static double rssGib(String field) {
        return MachineMemory.process(field).stream().mapToDouble(b -> b / (double) (1L << 30)).findFirst().orElse(Double.NaN);
    }

    private void phase(String format, Object... args) {
        out.printf("[%6.1f s, %5.2f GiB resident] %s%n", seconds(started), rssGib("VmRSS:"), String.format(format, args));
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> all = Files.walk(dir)) {
            all.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
