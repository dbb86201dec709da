package io.spinstream.demo;

import io.spinstream.devstack.DevStack;
import io.spinstream.evaluator.EvaluatorKeys;
import io.spinstream.evaluator.gate.PairedTest;
import io.spinstream.generator.GeneratorKeys;
import io.spinstream.runtime.ServiceLauncher;
import io.spinstream.runtime.config.ConfigKey;
import io.spinstream.runtime.kafka.TopicFollower;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.Prompt;
import io.spinstream.trainer.TrainerKeys;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * {@code spin demo}: the dev stack, the task's prompt stream, the converged base as round-0 opponent, and
 * the three services in this JVM, through the real broker and registry, for a number of rounds; then a
 * table and a plot of the rounds. A round is one end-of-round candidate and its verdict.
 */
public final class DemoRun {

    /**
     * @param service the services' settings by key ({@code spin.trainer.lr} ...): the demo's defaults
     *                with the user's overrides; the connection, store and run keys are the demo's own
     */
    public record Settings(int rounds, DemoSetup setup, Map<String, String> service, Path dir, Duration timeout) {
    }

    /**
     * @param test the final opponent against the base on the test split, which no decision read
     */
    public record Outcome(DemoBase.Base base, List<RoundResult> rounds, double baseEm, double finalEm, int promoted,
                          boolean converged, Path table, Path plot, PairedTest test) {
        public String lastLine() {
            return String.format(Locale.ROOT, "base_em=%.4f final_em=%.4f promoted=%d/%d test_base_em=%.4f test_final_em=%.4f"
                    + " test_delta_ci=[%+.4f,%+.4f]", baseEm, finalEm, promoted, rounds.size(), test.baseline(), test.candidate(),
                    test.ciLow(), test.ciHigh());
        }
    }

    private final Settings settings;
    private final PrintStream out;

    public DemoRun(Settings settings, PrintStream out) {
        this.settings = settings;
        this.out = out;
    }

    /** Every key the three services read. */
    public static List<ConfigKey<?>> serviceKeys() {
        List<ConfigKey<?>> keys = new ArrayList<>(GeneratorKeys.all());
        keys.addAll(TrainerKeys.all());
        keys.addAll(EvaluatorKeys.all());
        return ServiceLauncher.keys(keys.stream().distinct().toList());
    }

    /** Makes (or reuses) the base, starts a dev stack of its own, runs the rounds and stops everything. */
    public Outcome run() throws Exception {
        DemoBase.Base base = settings.setup().base().ensure(settings.dir().resolve("base"), out::println);
        out.println("starting the dev stack (Kafka broker + schema registry)...");
        try (DevStack stack = DevStack.start()) {
            out.println("bootstrap=" + stack.bootstrapServers());
            out.println("registry=" + stack.registryUrl());
            return run(base, stack, "spin");
        }
    }

    /** The rounds on {@code stack}, with topics under {@code prefix}. */
    public Outcome run(DemoBase.Base base, DevStack stack, String prefix) throws Exception {
        long started = System.nanoTime();
        DemoSetup setup = settings.setup();
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        Path runDir = settings.dir().resolve("runs").resolve(stamp);
        Map<String, String> values = connected(setup.withSplit(settings.service()), stack, runDir, "demo-" + stamp);
        values.put("spin.topic.prefix", prefix);
        // The stream is published before the services subscribe (see InProcessServices.start).
        List<Prompt> prompts = new ArrayList<>();
        try (InProcessServices services = InProcessServices.start(values, context -> prompts.addAll(setup.publish(context, out)));
             MetricsServers metrics = new MetricsServers(services.serveMetrics())) {
            out.println("metrics: " + metrics.describe(InProcessServices.NAMES));
            int training = (int) prompts.stream().filter(p -> services.split().isTraining(p.getPromptId())).count();
            services.promote(base);
            List<RoundResult> rounds = follow(services, training);
            Outcome outcome = report(base, rounds, services.trainerConverged(), runDir);
            out.printf(Locale.ROOT, "demo took %.1f min; run folder %s%n", (System.nanoTime() - started) / 60e9, runDir);
            return outcome;
        }
    }

    /** The services' settings with the connection, run, store and state folders of this demo. */
    public static Map<String, String> connected(Map<String, String> service, DevStack stack, Path runDir, String runId) {
        Map<String, String> values = new LinkedHashMap<>(service);
        values.put("spin.bootstrap.servers", stack.bootstrapServers());
        values.put("spin.registry.url", stack.registryUrl());
        values.put("spin.run.id", runId);
        values.put("spin.checkpoint.store", runDir.resolve("store").toAbsolutePath().toString());
        values.put("spin.trainer.state.dir", runDir.resolve("streams").toAbsolutePath().toString());
        values.putIfAbsent("spin.metrics.port", "0");
        return values;
    }

    /** Waits for the rounds' verdicts, printing progress; ends early on convergence, failure or timeout. */
    private List<RoundResult> follow(InProcessServices services, int trainingPrompts) throws InterruptedException {
        LinkedBlockingQueue<Evaluation> evaluations = new LinkedBlockingQueue<>();
        Map<String, CheckpointEvent> candidates = new ConcurrentHashMap<>();
        List<RoundResult> rounds = new ArrayList<>();
        var topics = services.context().topics();
        try (TopicFollower e = new TopicFollower(services.context().kafka(), topics.evaluations().name(),
                r -> evaluations.add(topics.evaluations().deserializeValue(r.value()))).start();
             TopicFollower c = new TopicFollower(services.context().kafka(), topics.checkpoints().name(), r -> {
                 CheckpointEvent ev = topics.checkpoints().deserializeValue(r.value());
                 candidates.put(ev.getCheckpointId(), ev);
             }).start()) {
            long deadline = System.nanoTime() + settings.timeout().toNanos();
            long roundStart = System.nanoTime();
            long lastLine = 0;
            double answeredAtStart = services.answered();
            double trainedAtStart = services.pairsTrained();
            double modelAtStart = services.modelSeconds();
            int opponentRound = 0;
            while (rounds.size() < settings.rounds()) {
                services.checkHealthy();
                if (System.nanoTime() > deadline) {
                    out.printf("the demo's time limit of %s ran out after %d of %d rounds%n", settings.timeout(), rounds.size(),
                            settings.rounds());
                    break;
                }
                if (services.trainerConverged() && evaluations.isEmpty()) {
                    out.println("the trainer stopped as converged: the opponent's answers equal the human answers"
                            + " on nearly every pair (or the rejection limit was reached); no more rounds");
                    break;
                }
                Evaluation ev = evaluations.poll(1, TimeUnit.SECONDS);
                if (ev != null) {
                    CheckpointEvent cand = candidates.get(ev.getCheckpointId());
                    RoundResult r = new RoundResult(rounds.size() + 1, opponentRound, ev.getCheckpointId(),
                            cand == null ? null : cand.getParentOpponentId(), ev.getBaselineId(),
                            ev.getVerdict().name(), ev.getMetrics(), ev.getBaselineMetrics(),
                            cand == null ? Map.of() : cand.getTrainMetrics(), ev.getReasons(),
                            (System.nanoTime() - roundStart) / 1e9, services.modelSeconds() - modelAtStart, intervals(ev));
                    rounds.add(r);
                    if (r.promoted()) {
                        opponentRound++;
                    }
                    out.println(RoundTable.line(r));
                    roundStart = System.nanoTime();
                    answeredAtStart = services.answered();
                    trainedAtStart = services.pairsTrained();
                    modelAtStart = services.modelSeconds();
                    continue;
                }
                if (System.nanoTime() - lastLine > 10_000_000_000L) {
                    lastLine = System.nanoTime();
                    double secs = (System.nanoTime() - roundStart) / 1e9;
                    double answered = services.answered() - answeredAtStart;
                    double rate = answered / Math.max(secs, 1e-3);
                    String generation = answered >= trainingPrompts || answered == 0 ? String.format("%.0f answers", answered)
                            : String.format(Locale.ROOT, "answers %.0f/%d (%.0f/s, ETA %.0f s)", answered, trainingPrompts,
                            rate, (trainingPrompts - answered) / Math.max(rate, 1e-3));
                    out.printf(Locale.ROOT, "round %d/%d: %s, %.0f pairs trained, trainer step %.0f, %.0f s in round%n",
                            rounds.size() + 1, settings.rounds(), generation, services.pairsTrained() - trainedAtStart,
                            services.trainerSteps(), secs);
                }
            }
        }
        return rounds;
    }

    /** Each tested metric's interval of the paired improvement, from the evaluation. */
    private static Map<String, double[]> intervals(Evaluation ev) {
        Map<String, double[]> out = new java.util.HashMap<>();
        ev.getTests().forEach((metric, t) -> out.put(metric, new double[]{t.getCiLow(), t.getCiHigh()}));
        return out;
    }

    private Outcome report(DemoBase.Base base, List<RoundResult> rounds, boolean converged, Path runDir) {
        double baseEm = rounds.isEmpty() ? base.heldOutEm() : rounds.get(0).baseline("exact_match");
        double baseNll = rounds.isEmpty() ? Double.NaN : rounds.get(0).baseline("heldout_nll");
        double finalEm = baseEm;
        int promoted = 0;
        Path finalDir = base.directory();
        for (RoundResult r : rounds) {
            if (r.promoted()) {
                finalEm = r.metric("exact_match");
                finalDir = runDir.resolve("store").resolve(r.candidateId());
                promoted++;
            }
        }
        PairedTest test = TestSplit.compare(settings.setup(), finalDir, base.directory());
        out.println(TestSplit.describe(test));
        Path table = runDir.resolve("rounds.md");
        Path plot = runDir.resolve("rounds.png");
        String text = RoundTable.markdown(base, rounds, baseEm, baseNll);
        RoundTable.write(table, text);
        RoundPlot.rounds(rounds, baseEm, baseNll, plot);
        out.println();
        out.print(text);
        out.println("table: " + table.toAbsolutePath());
        out.println("plot: " + plot.toAbsolutePath());
        return new Outcome(base, rounds, baseEm, finalEm, promoted, converged, table, plot, test);
    }
}
