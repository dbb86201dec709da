package io.spinstream.demo;

import ai.djl.ndarray.NDManager;
import io.spinstream.evaluator.gate.PromotionGate;
import io.spinstream.evaluator.gate.PairedTest;
import io.spinstream.evaluator.suite.Metric;
import io.spinstream.evaluator.suite.Suite;
import io.spinstream.evaluator.suite.SuiteRunner;
import io.spinstream.model.NoGrad;
import io.spinstream.model.Sampling;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.objective.GroupObjective;
import io.spinstream.model.objective.Objective;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.model.train.StepResult;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.opponent.Opponent;
import io.spinstream.runtime.opponent.PromptAnswerer;
import io.spinstream.runtime.reward.RewardStep;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
import io.spinstream.schemas.TrainingPair;
import io.spinstream.trainer.round.TrainingPairs;
import io.spinstream.trainer.round.PartitionKey;
import io.spinstream.trainer.round.RoundEnd;
import io.spinstream.trainer.round.RoundListener;
import io.spinstream.trainer.round.RoundPlan;
import io.spinstream.trainer.round.RoundSettings;
import io.spinstream.trainer.round.RoundTrainer;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.time.ZoneOffset;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * {@code spin bench ablation}: from the demo's converged base, rounds of self-play under several
 * objectives and settings, run by the trainer's own round core ({@link RoundTrainer}: its step assembly,
 * checkpoints, convergence stop and rejection policy) fed from an in-memory pair log instead of the pairs
 * topic, with the generator's answering code and the evaluator's suites and gate, so that many variants
 * fit in one sitting and every policy behaves as it does in the services. Every variant gets the same
 * rounds, pairs per round and batch size, hence the same number of optimiser steps.
 */
public final class Ablation {
    private static final PartitionKey LOG = new PartitionKey("ablation.pairs", 0);

    /**
     * @param gated   candidates go through the demo's gate; a refused one is answered by the demo's rejection policy
     * @param samples K answers per prompt, rewarded by the verifier, for a group objective (raft, rrhf); 1 for pairs
     */
    public record Variant(String name, String objective, double lr, boolean gated, int samples) {
        public Variant(String name, String objective, double lr, boolean gated) {
            this(name, objective, lr, gated, 1);
        }

        boolean groups() {
            return io.spinstream.trainer.TrainerKeys.isGroupObjective(objective);
        }
    }

    /**
     * @param round    the demo's trainer settings (objective and learning rate replaced per variant)
     * @param sampling the demo's opponent sampling (the seed replaced per run)
     */
    public record Settings(int rounds, List<Long> seeds, RoundSettings round, PromotionGate gate, Sampling sampling) {
    }

    /**
     * One variant on one seed: exact match / NLL of the opponent in force after each round (index 0 = base),
     * and its per-prompt exact match on the test split, which no decision read.
     */
    /** @param labelled the share of its training prompts whose human answer the variant saw */
    public record Run(Variant variant, long seed, double[] em, double[] nll, int promoted, long steps, double trainSeconds,
                      long sequencesForward, List<String> refused, double[] testEm, List<Judged> judged, double labelled) {
        double finalEm() {
            return em[em.length - 1];
        }

        double finalTestEm() {
            return Suite.mean(testEm);
        }
    }

    /**
     * One candidate as the gate saw it — per-prompt held-out scores of candidate and opponent — and as the
     * test split, which no decision read, shows it (per-prompt exact match of both): what {@code spin bench
     * gate} replays through the gates.
     */
    public record Judged(String variant, long seed, int round, Map<String, double[]> candidate, Map<String, double[]> opponent,
                         double[] testCandidate, double[] testOpponent) {
    }

    /**
     * The demo's prompts by the split: trained on, gated on (held out), reported on (test).
     *
     * @param unlabelled training prompts a group objective (raft, rrhf) gets without their human answer, as in
     *                   {@code spin demo --labelled}: it learns from rewards there; pair objectives, which cannot,
     *                   get every human answer (what full labels would give, for reference)
     */
    public record Splits(List<Prompt> training, List<Prompt> heldOut, List<Prompt> test, java.util.Set<String> unlabelled) {
        public Splits(List<Prompt> training, List<Prompt> heldOut, List<Prompt> test) {
            this(training, heldOut, test, java.util.Set.of());
        }

        public static Splits of(DemoSetup setup) {
            List<Prompt> all = setup.prompts();
            List<Prompt> training = all.stream().filter(p -> setup.split().isTraining(p.getPromptId())).toList();
            return new Splits(training,
                    all.stream().filter(p -> setup.split().isHeldOut(p.getPromptId())).toList(),
                    all.stream().filter(p -> setup.split().isTest(p.getPromptId())).toList(),
                    training.stream().map(Prompt::getPromptId).filter(id -> !setup.isLabelled(id))
                            .collect(java.util.stream.Collectors.toUnmodifiableSet()));
        }
    }

    private final Settings settings;
    private final PrintStream out;
    private final SuiteRunner suites;
    private final SuiteRunner testSuites; // the test split is reported by exact match alone

    public Ablation(Settings settings, PrintStream out) {
        this.settings = settings;
        this.out = out;
        this.suites = SuiteRunner.of(List.of("exact_match", "nll"), 256, settings.sampling().maxNewTokens());
        this.testSuites = SuiteRunner.of(List.of("exact_match"), 256, settings.sampling().maxNewTokens());
    }

    public List<Run> run(DemoBase.Base base, List<Prompt> training, List<Prompt> heldOut, List<Prompt> test, List<Variant> variants,
                         Path work) {
        return run(base, new Splits(training, heldOut, test), variants, work);
    }

    public List<Run> run(DemoBase.Base base, Splits splits, List<Variant> variants, Path work) {
        List<Prompt> training = splits.training();
        List<Prompt> heldOut = splits.heldOut();
        List<Prompt> test = splits.test();
        List<Run> runs = new ArrayList<>();
        Map<String, double[]> baseScores = evaluate(base.directory(), heldOut);
        Map<String, Double> baseMetrics = SuiteRunner.means(baseScores);
        out.printf(Locale.ROOT, "base %s: held-out exact match %.4f, NLL %.4f on %d prompts; %d training prompts%s%n",
                base.metadata().id(), baseMetrics.get("exact_match"), baseMetrics.get("heldout_nll"), heldOut.size(), training.size(),
                splits.unlabelled().isEmpty() ? "" : " (" + splits.unlabelled().size() + " of them unlabelled for raft and rrhf)");
        int total = variants.size() * settings.seeds().size();
        long started = System.nanoTime();
        for (Variant v : variants) {
            for (long seed : settings.seeds()) {
                Run r = new OneRun(v, seed, work.resolve(v.name() + "-s" + seed), v.groups() ? splits.unlabelled() : java.util.Set.of())
                        .run(base, baseScores, training, heldOut, test);
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

    /** One variant on one seed: the round core fed from an append-only pair log, as the trainer is from its topic. */
    private final class OneRun implements RoundListener {
        private final Variant variant;
        private final long seed;
        private final CheckpointStore store;
        private final RoundSettings round;
        private final List<TrainingPair> log = new ArrayList<>(); // pair i at offset i
        private final Random order;
        private final java.util.Set<String> unlabelled;
        private double labelledShare = 1.0; // of the training prompts, set when they are known
        private Candidate newest;
        private long steps;
        private long sequences;

        OneRun(Variant variant, long seed, Path dir, java.util.Set<String> unlabelled) {
            this.unlabelled = unlabelled;
            this.variant = variant;
            this.seed = seed;
            this.store = new CheckpointStore(dir);
            this.order = new Random(seed);
            RoundSettings.Training t = settings.round().training();
            RoundSettings.Training pairs = new RoundSettings.Training(Objective.parse(variant.groups() ? "sft" : variant.objective()),
                    t.optimizer(), variant.lr(), t.warmup(), t.weightDecay(), t.maxGradNorm(), t.batchSize(), t.accumulation());
            this.round = new RoundSettings(variant.groups() ? pairs.withGroups(GroupObjective.parse(variant.objective())) : pairs,
                    new RoundSettings.Checkpointing(variant.name() + "-s" + seed, dir, settings.round().checkpointing().everySteps()),
                    settings.round().convergence(), settings.round().policy(), false, PromptTemplate.PLAIN, Long.MAX_VALUE);
        }

        @Override
        public void onCandidate(RoundTrainer r, Candidate c) {
            newest = c;
        }

        @Override
        public void onStep(RoundTrainer r, StepResult result, int pairs, java.time.Duration compute) {
            steps++;
            sequences += Math.round(pairs * sequencesPerPrompt());
            if (result.skipped()) {
                out.println("  (a NaN/inf step was skipped)");
            }
        }

        /**
         * Sequences one prompt puts through the forward and backward pass: both of a pair for SPIN-like
         * objectives, one for SFT, RAFT's kept ones (at most {@code top} of the human answer and K samples),
         * RRHF's every candidate (K, and the human answer where the prompt is labelled: on average over the
         * round's prompts).
         */
        private double sequencesPerPrompt() {
            GroupObjective g = round.training().groups();
            double candidates = variant.samples() + labelledShare;
            return switch (g) {
                case null -> round.training().objective().usesRejected() ? 2 : 1;
                case io.spinstream.model.objective.Raft raft -> Math.min(raft.top(), candidates);
                case io.spinstream.model.objective.Rrhf rrhf -> candidates;
            };
        }

        Run run(DemoBase.Base base, Map<String, double[]> baseScores, List<Prompt> training, List<Prompt> heldOut,
                List<Prompt> test) {
            labelledShare = training.isEmpty() ? 1.0
                    : (double) training.stream().filter(p -> !unlabelled.contains(p.getPromptId())).count() / training.size();
            double[] em = new double[settings.rounds() + 1];
            double[] nll = new double[settings.rounds() + 1];
            em[0] = Suite.mean(baseScores.get("exact_match"));
            nll[0] = Suite.mean(baseScores.get("heldout_nll"));
            RoundPlan.OpponentRef opponent = new RoundPlan.OpponentRef(base.metadata().id(), 0, base.directory(),
                    base.metadata().sha256());
            Map<String, double[]> opponentScores = baseScores;
            double[] opponentTest = testEm(base.directory(), test);
            List<Judged> judged = new ArrayList<>();
            int promoted = 0;
            int rejected = 0;
            double trainSeconds = 0;
            List<String> refused = new ArrayList<>();
            try (NDManager manager = NDManager.newBaseManager()) {
                RoundTrainer trainer = null;
                try {
                    for (int r = 1; r <= settings.rounds(); r++) {
                        if (trainer == null) {
                            appendPairs(opponent, training, manager);
                            trainer = new RoundTrainer(RoundPlan.of(store, opponent, false), round, store,
                                    new RoundEnd(InstantSource.system(), 0, RoundEnd.GenerationProgress.NONE), manager, List.of(this));
                            rejected = 0;
                        }
                        Candidate before = newest;
                        long t0 = System.nanoTime();
                        for (long i = trainer.positions().getOrDefault(LOG, 0L); i < log.size(); i++) {
                            trainer.offer(LOG, i, log.get((int) i));
                        }
                        trainer.tick();
                        trainSeconds += (System.nanoTime() - t0) / 1e9;
                        if (trainer.state() == RoundTrainer.State.CONVERGED || newest == before) {
                            refused.add("r" + r + " " + trainer.state().name().toLowerCase(Locale.ROOT) + ", no new candidate");
                        } else {
                            Map<String, double[]> cand = evaluate(newest.directory(), heldOut);
                            double[] candTest = testEm(newest.directory(), test);
                            judged.add(new Judged(variant.name(), seed, r, cand, opponentScores, candTest, opponentTest));
                            if (!variant.gated() || settings.gate().judge(cand, opponentScores, heldOut.size()).promote()) {
                                CheckpointMetadata m = newest.metadata();
                                opponent = new RoundPlan.OpponentRef(m.id(), opponent.round() + 1, newest.directory(), m.sha256());
                                opponentScores = cand;
                                opponentTest = candTest;
                                promoted++;
                                trainer.close();
                                trainer = null;
                            } else {
                                refused.add(String.format(Locale.ROOT, "r%d %.4f vs %.4f", r, Suite.mean(cand.get("exact_match")),
                                        Suite.mean(opponentScores.get("exact_match"))));
                                trainer.rejections(++rejected); // the policy answers, as the trainer's does
                            }
                        }
                        em[r] = Suite.mean(opponentScores.get("exact_match"));
                        nll[r] = Suite.mean(opponentScores.get("heldout_nll"));
                    }
                } finally {
                    if (trainer != null) {
                        trainer.close();
                    }
                }
            }
            return new Run(variant, seed, em, nll, promoted, steps, trainSeconds, sequences, refused, opponentTest, judged,
                    labelledShare);
        }

        /** The opponent's answers to every training prompt, as the generator writes them, joined into pairs in a seeded order. */
        private void appendPairs(RoundPlan.OpponentRef opponent, List<Prompt> prompts, NDManager manager) {
            OpponentPromotion promotion = OpponentPromotion.newBuilder().setRunId("ablation").setCheckpointId(opponent.id())
                    .setRound(opponent.round()).setUri(opponent.directory().toUri().toString()).setSha256(opponent.sha256())
                    .setCreatedAt(Instant.EPOCH).build();
            Sampling s = settings.sampling();
            List<SyntheticResponse> answers = new ArrayList<>();
            try (Opponent o = Opponent.load(promotion, manager, PromptTemplate.PLAIN, CheckpointLocation.ANYWHERE); NoGrad ignored = NoGrad.enter()) {
                PromptAnswerer answerer = new PromptAnswerer(o, new Sampling(s.temperature(), s.topP(), s.maxNewTokens(), seed),
                        "ablation", Clock.systemUTC(), variant.samples());
                for (int from = 0; from < prompts.size(); from += 256) {
                    List<Prompt> chunk = prompts.subList(from, Math.min(prompts.size(), from + 256));
                    try (NDManager scope = manager.newSubManager()) {
                        List<SyntheticResponse> answered = answerer.answer(scope, chunk);
                        for (int i = 0; i < chunk.size(); i++) { // the generator's reward step: the prompt's verifier
                            answers.add(RewardStep.VERIFIER.reward(chunk.get(i), answered.get(i)));
                        }
                    }
                }
            }
            List<Integer> idx = new ArrayList<>();
            for (int i = 0; i < prompts.size(); i++) {
                idx.add(i);
            }
            Collections.shuffle(idx, order);
            for (int i : idx) {
                Prompt p = prompts.get(i);
                SyntheticResponse a = answers.get(i);
                // An unlabelled prompt's pair has no human answer; its verifier still knows the reference answer.
                Prompt asked = unlabelled.contains(p.getPromptId()) ? Prompt.newBuilder(p).setHumanResponse(null).build() : p;
                log.add(TrainingPairs.of(asked, a, Clock.fixed(a.getCreatedAt(), ZoneOffset.UTC)));
            }
        }
    }

    /** Per-prompt exact match of the checkpoint in {@code dir} on the test split. */
    private double[] testEm(Path dir, List<Prompt> test) {
        return testSuites.scoreCheckpoint(dir, test, PromptTemplate.PLAIN).getOrDefault("exact_match", new double[0]);
    }

    /** Per-prompt exact match and NLL of the checkpoint in {@code dir}, by the evaluator's own suites. */
    private Map<String, double[]> evaluate(Path dir, List<Prompt> heldOut) {
        return suites.scoreCheckpoint(dir, heldOut, PromptTemplate.PLAIN);
    }

    static String series(double[] v) {
        List<String> s = new ArrayList<>();
        for (double d : v) {
            s.add(String.format(Locale.ROOT, "%.3f", d));
        }
        return String.join(" → ", s);
    }

    /**
     * The table: per variant, held-out exact match after each round (mean over seeds), final per seed,
     * cost; and the test split, which no decision read: the final opponent's exact match per seed, and its
     * paired difference against continued SFT of the same seed, prompts of all seeds pooled, with its 95%
     * interval (seed-to-seed spread is not in the interval).
     */
    public static String table(List<Run> runs) {
        Map<String, List<Run>> byVariant = new LinkedHashMap<>();
        runs.forEach(r -> byVariant.computeIfAbsent(r.variant().name(), k -> new ArrayList<>()).add(r));
        List<Run> sft = byVariant.getOrDefault("sft", List.of());
        StringBuilder sb = new StringBuilder();
        sb.append("| variant | objective | lr | gated | held-out EM by round (mean) | final EM per seed | mean final EM | Δ vs base | promoted | refused (round: candidate vs opponent EM) | steps | sequences/step | train s | test EM per seed | test Δ vs sft [95% CI] | human answers |\n");
        sb.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (List<Run> rs : byVariant.values()) {
            Variant v = rs.get(0).variant();
            int n = rs.get(0).em().length;
            double[] mean = new double[n];
            for (Run r : rs) {
                for (int i = 0; i < n; i++) {
                    mean[i] += r.em()[i] / rs.size();
                }
            }
            sb.append(String.format(Locale.ROOT, "| %s | %s | %.0e | %s | %s | %s | %.4f | %+.4f | %s | %s | %d | %.1f | %.0f | %s | %s | %s |%n",
                    v.name(), v.objective(), v.lr(), v.gated() ? "yes" : "no", series(mean),
                    String.join(", ", rs.stream().map(r -> String.format(Locale.ROOT, "%.4f", r.finalEm())).toList()),
                    mean[n - 1], mean[n - 1] - mean[0],
                    String.join(", ", rs.stream().map(r -> r.promoted() + "/" + (n - 1)).toList()),
                    rs.stream().flatMap(r -> r.refused().stream().map(x -> "s" + r.seed() + " " + x)).reduce((a, b) -> a + "; " + b).orElse(""),
                    rs.get(0).steps(), (double) rs.get(0).sequencesForward() / Math.max(1, rs.get(0).steps()),
                    rs.stream().mapToDouble(Run::trainSeconds).average().orElse(0),
                    String.join(", ", rs.stream().map(r -> String.format(Locale.ROOT, "%.4f", r.finalTestEm())).toList()),
                    versusSft(rs, sft), rs.get(0).labelled() >= 1 ? "all" : String.format(Locale.ROOT, "%.0f%%, rewards on the rest",
                            100 * rs.get(0).labelled())));
        }
        return sb.toString();
    }

    /** The variant's test exact match against continued SFT's, paired by seed and prompt; empty without SFT runs. */
    static String versusSft(List<Run> variant, List<Run> sft) {
        List<double[]> mine = new ArrayList<>();
        List<double[]> theirs = new ArrayList<>();
        for (Run r : variant) {
            sft.stream().filter(s -> s.seed() == r.seed() && s.testEm().length == r.testEm().length).findFirst().ifPresent(s -> {
                mine.add(r.testEm());
                theirs.add(s.testEm());
            });
        }
        if (mine.isEmpty() || variant.get(0).variant().name().equals("sft")) {
            return "";
        }
        PairedTest t = PairedTest.better(Metric.EXACT_MATCH, concat(mine), concat(theirs), 0.95);
        return String.format(Locale.ROOT, "%+.4f [%+.4f, %+.4f]%s", t.improvement(), t.ciLow(), t.ciHigh(),
                t.ciLow() > 0 ? " better" : t.ciHigh() < 0 ? " worse" : " not distinguishable");
    }

    private static double[] concat(List<double[]> parts) {
        return parts.stream().flatMapToDouble(java.util.Arrays::stream).toArray();
    }

    public static double meanTest(List<Run> runs, String variant) {
        return runs.stream().filter(r -> r.variant().name().equals(variant)).mapToDouble(Run::finalTestEm).average().orElse(Double.NaN);
    }

    public static double meanFinal(List<Run> runs, String variant) {
        return runs.stream().filter(r -> r.variant().name().equals(variant)).mapToDouble(Run::finalEm).average().orElse(Double.NaN);
    }
}
