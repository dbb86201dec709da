package io.spinstream.demo;

import ai.djl.ndarray.NDManager;
import io.spinstream.evaluator.PromotionGate;
import io.spinstream.evaluator.suite.ExactMatch;
import io.spinstream.evaluator.suite.HeldOutNll;
import io.spinstream.evaluator.suite.Metric;
import io.spinstream.evaluator.suite.Scoring;
import io.spinstream.runtime.opponent.PromptAnswerer;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.NoGrad;
import io.spinstream.model.Sampling;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.checkpoint.LoadedCheckpoint;
import io.spinstream.model.objective.Objective;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.model.tokenizer.SpinTokenizer;
import io.spinstream.model.train.AdamW;
import io.spinstream.model.train.LearningRateSchedule;
import io.spinstream.model.train.PreferenceBatch;
import io.spinstream.model.train.StepResult;
import io.spinstream.model.train.TrainStep;
import io.spinstream.runtime.opponent.Opponent;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * {@code spin bench ablation}: from the demo's converged base, rounds of self-play under several
 * objectives and settings, with the same pieces the services use (the generator's answerer, the trainer's
 * objectives and optimiser, the evaluator's suites and gate) but without Kafka in between, so that many
 * variants fit in one sitting. Every variant gets the same rounds, pairs per round and batch size, hence
 * the same number of optimiser steps.
 */
public final class Ablation {

    /**
     * @param gated  candidates go through the demo's gate; a rejected one is dropped and the round is trained
     *               again from the opponent at {@code lr × 0.5} (the demo's rollback policy)
     */
    public record Variant(String name, String objective, double lr, boolean gated) {
    }

    public record Settings(int rounds, List<Long> seeds, int batchSize, double temperature, int maxNewTokens,
                           PromotionGate gate, double rollbackFactor) {
    }

    /** One variant on one seed: exact match / NLL of the opponent in force after each round (index 0 = base). */
    public record Run(Variant variant, long seed, double[] em, double[] nll, int promoted, long steps, double trainSeconds,
                      long sequencesForward, List<String> refused) {
        double finalEm() {
            return em[em.length - 1];
        }
    }

    private final Settings settings;
    private final PrintStream out;

    public Ablation(Settings settings, PrintStream out) {
        this.settings = settings;
        this.out = out;
    }

    public List<Run> run(DemoBase.Base base, List<Prompt> training, List<Prompt> heldOut, List<Variant> variants, Path work) {
        List<Run> runs = new ArrayList<>();
        Map<String, Double> baseMetrics;
        try (NDManager m = NDManager.newBaseManager(); LoadedCheckpoint b = base.store().load(base.metadata().id(), m);
             SpinTokenizer tok = tokenizer(b)) {
            baseMetrics = evaluate(b.model(), tok, heldOut);
        }
        out.printf(Locale.ROOT, "base %s: held-out exact match %.4f, NLL %.4f on %d prompts; %d training prompts%n",
                base.metadata().id(), baseMetrics.get("exact_match"), baseMetrics.get("heldout_nll"), heldOut.size(), training.size());
        int total = variants.size() * settings.seeds().size();
        long started = System.nanoTime();
        for (Variant v : variants) {
            for (long seed : settings.seeds()) {
                Run r = runOne(v, seed, base, baseMetrics, training, heldOut, work.resolve(v.name() + "-s" + seed));
                runs.add(r);
                double perRun = (System.nanoTime() - started) / 1e9 / runs.size();
                out.printf(Locale.ROOT, "[%d/%d] %s seed %d: exact match %s, %d promoted%s, %.0f s training (ETA %.0f min)%n",
                        runs.size(), total, v.name(), seed, series(r.em()), r.promoted(),
                        r.refused().isEmpty() ? "" : " (refused: " + String.join(", ", r.refused()) + ")", r.trainSeconds(),
                        perRun * (total - runs.size()) / 60);
            }
        }
        return runs;
    }

    private Run runOne(Variant v, long seed, DemoBase.Base base, Map<String, Double> baseMetrics, List<Prompt> training,
                       List<Prompt> heldOut, Path dir) {
        CheckpointStore store = new CheckpointStore(dir);
        Objective objective = Objective.parse(v.objective());
        double[] em = new double[settings.rounds() + 1];
        double[] nll = new double[settings.rounds() + 1];
        em[0] = baseMetrics.get("exact_match");
        nll[0] = baseMetrics.get("heldout_nll");
        // The opponent in force: its checkpoint folder, promotion and metrics.
        Path opponentDir = base.directory();
        CheckpointMetadata opponentMeta = base.metadata();
        Map<String, Double> opponentMetrics = baseMetrics;
        int opponentRound = 0;
        double lr = v.lr();
        int promoted = 0;
        long steps = 0;
        long sequences = 0;
        double trainSeconds = 0;
        List<SyntheticResponse> answers = null;
        String answeredBy = null;
        Random order = new Random(seed);
        List<String> refused = new ArrayList<>();
        for (int round = 1; round <= settings.rounds(); round++) {
            try (NDManager manager = NDManager.newBaseManager()) {
                OpponentPromotion promotion = Opponent.initial("ablation", opponentMeta, opponentDir);
                promotion.setRound(opponentRound);
                try (Opponent opponent = Opponent.load(promotion, manager, PromptTemplate.PLAIN)) {
                    if (!opponentMeta.id().equals(answeredBy)) {
                        answers = answer(opponent, training, seed, manager);
                        answeredBy = opponentMeta.id();
                    }
                    LlamaModel theta = opponent.checkpoint().model(); // trained in place: the opponent is reloaded per round
                    List<PreferenceBatch> batches = batches(opponent.tokenizer(), training, answers, order);
                    long t0 = System.nanoTime();
                    try (TrainStep step = new TrainStep(theta, objective, new AdamW(0.9, 0.999, 1e-8, 0),
                            LearningRateSchedule.constant(lr), 1.0)) {
                        for (PreferenceBatch b : batches) {
                            StepResult r = step.step(List.of(b));
                            steps++;
                            sequences += objective.usesRejected() ? 2L * b.size() : b.size();
                            if (r.skipped()) {
                                out.println("  (a NaN/inf step was skipped)");
                            }
                        }
                    }
                    trainSeconds += (System.nanoTime() - t0) / 1e9;
                    Map<String, Double> cand = evaluate(theta, opponent.tokenizer(), heldOut);
                    boolean promote = true;
                    if (v.gated()) {
                        PromotionGate.Decision d = settings.gate().judge(cand, opponentMetrics, heldOut.size());
                        promote = d.promote();
                        if (!promote) {
                            lr *= settings.rollbackFactor();
                            refused.add(String.format(Locale.ROOT, "r%d %.4f<=%.4f", round, cand.get("exact_match"),
                                    opponentMetrics.get("exact_match")));
                        }
                    }
                    if (promote) {
                        String id = v.name() + "-s" + seed + "-r" + round;
                        opponentMeta = store.save(theta, opponent.checkpoint().tokenizerJson(),
                                CheckpointMetadata.of(id, opponentMeta.id(), round, steps, cand, null));
                        opponentDir = store.directoryOf(id);
                        opponentMetrics = cand;
                        opponentRound++;
                        promoted++;
                    }
                    em[round] = opponentMetrics.get("exact_match");
                    nll[round] = opponentMetrics.get("heldout_nll");
                }
            }
        }
        return new Run(v, seed, em, nll, promoted, steps, trainSeconds, sequences, refused);
    }

    /** The opponent's answers to every training prompt, as the generator service writes them. */
    private List<SyntheticResponse> answer(Opponent opponent, List<Prompt> prompts, long seed, NDManager manager) {
        PromptAnswerer answerer = new PromptAnswerer(opponent,
                new Sampling((float) settings.temperature(), 1f, settings.maxNewTokens(), seed), "ablation", Clock.systemUTC());
        List<SyntheticResponse> out = new ArrayList<>();
        try (NoGrad ignored = NoGrad.enter()) {
            for (int from = 0; from < prompts.size(); from += 256) {
                try (NDManager scope = manager.newSubManager()) {
                    out.addAll(answerer.answer(scope, prompts.subList(from, Math.min(prompts.size(), from + 256))));
                }
            }
        }
        return out;
    }

    /** Pairs (human answer preferred over the opponent's) in a seeded order, in batches of the trainer's size. */
    private List<PreferenceBatch> batches(SpinTokenizer tok, List<Prompt> prompts, List<SyntheticResponse> answers, Random order) {
        List<Integer> idx = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            idx.add(i);
        }
        Collections.shuffle(idx, order);
        List<PreferenceBatch> out = new ArrayList<>();
        for (int from = 0; from < idx.size(); from += settings.batchSize()) {
            List<Integer> chunk = idx.subList(from, Math.min(idx.size(), from + settings.batchSize()));
            out.add(new PreferenceBatch(
                    chunk.stream().map(i -> tok.example(prompts.get(i).getPrompt(), prompts.get(i).getHumanResponse())).toList(),
                    chunk.stream().map(i -> tok.example(prompts.get(i).getPrompt(), answers.get(i).getResponse())).toList(),
                    chunk.stream().mapToDouble(i -> answers.get(i).getOpponentLogpHuman()).toArray(),
                    chunk.stream().mapToDouble(i -> answers.get(i).getOpponentLogpSynthetic()).toArray()));
        }
        return out;
    }

    /** Held-out exact match and NLL, by the evaluator's own suites. */
    private Map<String, Double> evaluate(LlamaModel model, SpinTokenizer tok, List<Prompt> heldOut) {
        Map<String, Double> m = new HashMap<>();
        try (NoGrad ignored = NoGrad.enter(); NDManager scope = model.manager().newSubManager()) {
            Scoring s = new Scoring(heldOut, model, tok, null, null, scope, 256, settings.maxNewTokens(), n -> {
            });
            m.put(Metric.EXACT_MATCH.name(), new ExactMatch().score(s));
            m.put(Metric.HELD_OUT_NLL.name(), new HeldOutNll().score(s));
        }
        return m;
    }

    private static SpinTokenizer tokenizer(LoadedCheckpoint c) {
        return SpinTokenizer.load(c.tokenizerJson(), PromptTemplate.PLAIN, c.model().config().eosTokenId());
    }

    static String series(double[] v) {
        List<String> s = new ArrayList<>();
        for (double d : v) {
            s.add(String.format(Locale.ROOT, "%.3f", d));
        }
        return String.join(" → ", s);
    }

    /** The table: per variant, exact match after each round (mean over seeds), final per seed, cost. */
    public static String table(List<Run> runs) {
        Map<String, List<Run>> byVariant = new LinkedHashMap<>();
        runs.forEach(r -> byVariant.computeIfAbsent(r.variant().name(), k -> new ArrayList<>()).add(r));
        StringBuilder sb = new StringBuilder();
        sb.append("| variant | objective | lr | gated | held-out EM by round (mean) | final EM per seed | mean final EM | Δ vs base | promoted | refused (round: candidate vs opponent EM) | steps | sequences/step | train s |\n");
        sb.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (List<Run> rs : byVariant.values()) {
            Variant v = rs.get(0).variant();
            int n = rs.get(0).em().length;
            double[] mean = new double[n];
            for (Run r : rs) {
                for (int i = 0; i < n; i++) {
                    mean[i] += r.em()[i] / rs.size();
                }
            }
            sb.append(String.format(Locale.ROOT, "| %s | %s | %.0e | %s | %s | %s | %.4f | %+.4f | %s | %s | %d | %.1f | %.0f |%n",
                    v.name(), v.objective(), v.lr(), v.gated() ? "yes" : "no", series(mean),
                    String.join(", ", rs.stream().map(r -> String.format(Locale.ROOT, "%.4f", r.finalEm())).toList()),
                    mean[n - 1], mean[n - 1] - mean[0],
                    String.join(", ", rs.stream().map(r -> r.promoted() + "/" + (n - 1)).toList()),
                    rs.stream().flatMap(r -> r.refused().stream().map(x -> "s" + r.seed() + " " + x)).reduce((a, b) -> a + "; " + b).orElse(""),
                    rs.get(0).steps(), (double) rs.get(0).sequencesForward() / Math.max(1, rs.get(0).steps()),
                    rs.stream().mapToDouble(Run::trainSeconds).average().orElse(0)));
        }
        return sb.toString();
    }

    public static double meanFinal(List<Run> runs, String variant) {
        return runs.stream().filter(r -> r.variant().name().equals(variant)).mapToDouble(Run::finalEm).average().orElse(Double.NaN);
    }
}
