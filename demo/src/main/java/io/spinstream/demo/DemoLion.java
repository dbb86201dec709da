package io.spinstream.demo;

import ai.djl.ndarray.NDManager;
import io.micrometer.core.instrument.Counter;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.spinstream.devstack.DevStack;
import io.spinstream.evaluator.gate.PairedTest;
import io.spinstream.evaluator.suite.Metric;
import io.spinstream.inference.LoadedModel;
import io.spinstream.lion.LionKeys;
import io.spinstream.lion.LionMain;
import io.spinstream.lion.LionService;
import io.spinstream.model.Precision;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.ServiceLauncher;
import io.spinstream.runtime.config.ConfigKey;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.health.MetricsServer;
import io.spinstream.runtime.kafka.TopicFollower;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.Prompt;
import io.spinstream.serve.ModelSlot;
import io.spinstream.serve.OpenAiServer;
import io.spinstream.serve.RequestBatcher;
import org.apache.kafka.clients.producer.KafkaProducer;

import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * {@code spin demo lion}: Lion's adversarial distillation on the demo's task, through the real broker. The teacher
 * is a larger model trained on the task and served by {@code spin serve} (its OpenAI API on loopback); the student
 * is the demo base, the run's opponent; the referee is the verifier; the prompt writer writes problems near the
 * hard ones (same digits, same carries). The student learns the teacher's answers by SFT and the evaluator gates
 * every candidate. Then the same teacher answers, spent on uniformly drawn problems (imitation only), train the
 * same student for as many rounds; both final students are compared on the test split, which no decision read.
 */
public final class DemoLion {

    /**
     * @param seeds    prompts in the train and cache pools at the start (drawn from the training split)
     * @param service  the services' settings (the demo's, objective sft)
     */
    public record Settings(int rounds, int seeds, DemoSetup student, DemoSetup teacher, Map<String, String> service, Path dir,
                           Duration timeout) {
    }

    /** One run's end: its final student, its test exact match per prompt, the teacher calls it made. */
    record Run(String name, Path finalStudent, int promoted, int rounds, long teacherCalls, double[] testEm, List<String> lines) {
    }

    public record Outcome(double baseEm, double lionEm, double uniformEm, long teacherCalls, PairedTest lionVsUniform,
                          int tested, Path table) {
        public String lastLine() {
            return String.format(Locale.ROOT, "lion_em=%.4f uniform_em=%.4f teacher_calls=%d", lionEm, uniformEm, teacherCalls);
        }
    }

    private final Settings settings;
    private final PrintStream out;

    public DemoLion(Settings settings, PrintStream out) {
        this.settings = settings;
        this.out = out;
    }

    /** The demo's service settings for distillation: the SPIN demo's, trained by SFT on the teacher's answers. */
    public static Map<String, String> serviceDefaults() {
        Map<String, String> m = new LinkedHashMap<>(DemoSetup.serviceDefaults());
        m.put("spin.trainer.objective", "sft");
        // SFT on a few thousand teacher answers moves the demo student at 1e-3; at the SPIN demo's 1e-4 no candidate
        // differed from the base on the held-out prompts (measured 2026-12-01, 500 seeds, 3 rounds).
        m.put("spin.trainer.lr", "1e-3");
        m.put("spin.generator.temperature", "0");
        return m;
    }

    /** A teacher for the demo: a larger model than the student's, trained on the same task by the same recipe. */
    public static DemoSetup teacherOf(DemoSetup student) {
        DemoModel m = student.model();
        return new DemoSetup(student.task(), student.stream(), new DemoModel(m.hidden() * 3 / 2, m.layers() + 1, m.heads(), m.maxPositions()),
                student.sft(), student.split(), 1.0);
    }

    public Outcome run() throws Exception {
        DemoBase.Base student = settings.student().base().ensure(settings.dir().resolve("base"), out::println);
        out.println("teacher: " + teacherOf(settings.student()).model().describe());
        DemoBase.Base teacher = settings.teacher().base().ensure(settings.dir().resolve("teacher"), out::println);
        out.printf(Locale.ROOT, "student held-out exact match %.4f, teacher %.4f%n", student.heldOutEm(), teacher.heldOutEm());
        out.println("starting the dev stack (Kafka broker + schema registry)...");
        List<Prompt> training = settings.student().prompts().stream().filter(p -> settings.student().split().isTraining(p.getPromptId())).toList();
        try (DevStack stack = DevStack.start(); NDManager manager = NDManager.newBaseManager();
             ModelSlot slot = ModelSlot.fixed(LoadedModel.load(teacher.metadata().id(), teacher.directory(), Optional.empty(), manager,
                     PromptTemplate.PLAIN, Precision.FLOAT32), manager, PromptTemplate.PLAIN, CheckpointLocation.ANYWHERE);
             RequestBatcher batcher = new RequestBatcher(slot, manager, 64);
             OpenAiServer server = new OpenAiServer(new InetSocketAddress("127.0.0.1", 0), slot, batcher, List.of(), null,
                     MetricsServer.newRegistry(), Clock.systemUTC())) {
            String url = "http://127.0.0.1:" + server.port() + "/v1";
            out.println("teacher served by spin serve at " + url + " as " + teacher.metadata().id());
            SplittableRandom random = new SplittableRandom(11);
            List<Prompt> shuffled = new ArrayList<>(training);
            java.util.Collections.shuffle(shuffled, new java.util.Random(random.nextLong()));
            List<Prompt> seeds = shuffled.subList(0, Math.min(settings.seeds(), shuffled.size()));
            Run lion = runOne("lion", stack, student, teacher, url, seeds, seeds, true);
            // The same number of teacher answers, all spent on imitation of uniformly drawn problems.
            int uniformCount = (int) Math.min(lion.teacherCalls(), shuffled.size());
            List<Prompt> uniform = shuffled.subList(shuffled.size() - uniformCount, shuffled.size());
            Run uni = runOne("uniform", stack, student, teacher, url, uniform, List.of(), false);
            double[] baseEm = TestSplit.exactMatch(student.directory(), TestSplit.prompts(settings.student()), settings.student());
            return report(lion, uni, baseEm);
        }
    }

    private Run runOne(String name, DevStack stack, DemoBase.Base student, DemoBase.Base teacher, String url, List<Prompt> train,
                       List<Prompt> cache, boolean discriminate) throws Exception {
        long started = System.nanoTime();
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        Path runDir = settings.dir().resolve("lion-runs").resolve(stamp + "-" + name);
        DemoSetup setup = settings.student();
        Map<String, String> values = DemoRun.connected(setup.withSplit(settings.service()), stack, runDir, "lion-" + name + "-" + stamp);
        values.put("spin.topic.prefix", "lion-" + name + "-" + stamp.replace("-", ""));
        Map<String, String> lionValues = new LinkedHashMap<>(values);
        lionValues.putAll(Map.of("spin.lion.teacher.url", url, "spin.lion.teacher.model", teacher.metadata().id(),
                "spin.lion.teacher.temperature", "0", "spin.lion.teacher.max.tokens", Integer.toString(setup.task().maxAnswerTokens()),
                "spin.lion.referee", "verifier", "spin.lion.writer", "arithmetic",
                "spin.lion.student.max.tokens", Integer.toString(setup.task().maxAnswerTokens()),
                "spin.lion.discriminate", Boolean.toString(discriminate), "spin.lion.batch.size", "64", "spin.lion.concurrency", "16"));
        List<ConfigKey<?>> keys = new ArrayList<>(DemoRun.serviceKeys());
        keys.addAll(ServiceLauncher.keys(LionKeys.all()));
        ServiceConfig lionConfig = ServiceConfig.load(keys, Map.of(), Optional.empty(), lionValues);
        out.printf(Locale.ROOT, "%n%s: %d prompts in the train pool, %d in the cache pool%s%n", name, train.size(), cache.size(),
                discriminate ? "" : " (imitation only)");
        // The gate needs labelled held-out prompts: the task's held-out share is published as it is (the student
        // trains on the teacher's answers alone, from the lion stream).
        List<Prompt> heldOut = setup.prompts().stream().filter(p -> setup.split().isHeldOut(p.getPromptId())).toList();
        PrometheusMeterRegistry lionMetrics = MetricsServer.newRegistry();
        try (InProcessServices services = InProcessServices.start(values, context ->
                new io.spinstream.runtime.kafka.PromptPublisher(context).publish(setup.stream(), heldOut, n -> {
                }))) {
            LionService lion = new LionService(services.context(), LionMain.settings(lionConfig), lionMetrics);
            lion.start();
            try {
                var topics = services.context().topics();
                try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(services.context().kafka().idempotentProducer())) {
                    for (Prompt p : train) {
                        producer.send(topics.lionTrain().rawRecord(p.getPromptId(), p));
                    }
                    for (Prompt p : cache) {
                        producer.send(topics.lionCache().rawRecord(p.getPromptId(), p));
                    }
                    producer.flush();
                }
                services.promote(student);
                return follow(name, services, lion, lionMetrics, runDir, student, started);
            } finally {
                lion.stop();
            }
        }
    }

    private Run follow(String name, InProcessServices services, LionService lion, PrometheusMeterRegistry m, Path runDir,
                       DemoBase.Base student, long started) throws InterruptedException {
        LinkedBlockingQueue<Evaluation> evaluations = new LinkedBlockingQueue<>();
        var topics = services.context().topics();
        List<String> lines = new ArrayList<>();
        Path finalStudent = student.directory();
        int promoted = 0;
        int rounds = 0;
        try (TopicFollower f = new TopicFollower(services.context().kafka(), topics.evaluations().name(),
                r -> evaluations.add(topics.evaluations().deserializeValue(r.value()))).start()) {
            long deadline = System.nanoTime() + settings.timeout().toNanos();
            long lastLine = System.nanoTime();
            while (rounds < settings.rounds()) {
                services.checkHealthy();
                if (lion.failure() != null) {
                    throw new IllegalStateException("the Lion service failed: " + lion.failure(), lion.failure());
                }
                if (System.nanoTime() > deadline) {
                    out.printf("%s: the time limit of %s ran out after %d of %d rounds%n", name, settings.timeout(), rounds, settings.rounds());
                    break;
                }
                Evaluation ev = evaluations.poll(1, TimeUnit.SECONDS);
                if (ev != null) {
                    rounds++;
                    boolean up = ev.getVerdict().name().equals("PROMOTE");
                    if (up) {
                        promoted++;
                        finalStudent = runDir.resolve("store").resolve(ev.getCheckpointId());
                    }
                    String line = String.format(Locale.ROOT, "| %s | %d | %s | %.4f | %.4f | %s | %.0f | %.0f | %.0f | %.0f | %.0f |", name, rounds,
                            ev.getCheckpointId(), ev.getBaselineMetrics().getOrDefault("exact_match", Double.NaN),
                            ev.getMetrics().getOrDefault("exact_match", Double.NaN), ev.getVerdict(), count(m, "spin.lion.imitated"),
                            count(m, "spin.lion.judged.hard"), count(m, "spin.lion.judged.easy"), count(m, "spin.lion.prompts.kept"),
                            teacherCalls(m));
                    lines.add(line);
                    out.println(line);
                    continue;
                }
                if (System.nanoTime() - lastLine > 10_000_000_000L) {
                    lastLine = System.nanoTime();
                    out.printf(Locale.ROOT, "%s round %d/%d: %.0f imitated, %.0f judged (%.0f hard), %.0f new prompts kept, %.0f teacher"
                                    + " calls, %.0f answers, %.0f pairs trained, %.0f s%n", name, rounds + 1, settings.rounds(),
                            count(m, "spin.lion.imitated"), count(m, "spin.lion.judged.hard") + count(m, "spin.lion.judged.easy"),
                            count(m, "spin.lion.judged.hard"), count(m, "spin.lion.prompts.kept"), teacherCalls(m), services.answered(),
                            services.pairsTrained(), (System.nanoTime() - started) / 1e9);
                }
            }
        }
        long calls = (long) teacherCalls(m);
        double[] em = TestSplit.exactMatch(finalStudent, TestSplit.prompts(settings.student()), settings.student());
        out.printf(Locale.ROOT, "%s: %d rounds, %d promoted, %d teacher calls, %.1f min%n", name, rounds, promoted, calls,
                (System.nanoTime() - started) / 60e9);
        return new Run(name, finalStudent, promoted, rounds, calls, em, lines);
    }

    private static double teacherCalls(PrometheusMeterRegistry m) {
        return count(m, "spin.lion.teacher.calls.imitation") + count(m, "spin.lion.teacher.calls.discrimination");
    }

    private static double count(PrometheusMeterRegistry registry, String name) {
        return registry.find(name).counters().stream().mapToDouble(Counter::count).sum();
    }

    private Outcome report(Run lion, Run uniform, double[] baseEm) {
        PairedTest vs = PairedTest.better(Metric.EXACT_MATCH, lion.testEm(), uniform.testEm(), TestSplit.CONFIDENCE);
        double base = mean(baseEm);
        double l = mean(lion.testEm());
        double u = mean(uniform.testEm());
        int n = baseEm.length;
        StringBuilder md = new StringBuilder();
        md.append("| run | round | candidate | opponent held-out EM | candidate held-out EM | verdict | imitated | hard | easy | new kept | teacher calls |\n");
        md.append("|---|---|---|---|---|---|---|---|---|---|---|\n");
        lion.lines().forEach(x -> md.append(x).append('\n'));
        uniform.lines().forEach(x -> md.append(x).append('\n'));
        md.append('\n').append(String.format(Locale.ROOT, "| test split (%d prompts no decision read) | exact match | 95%% interval |%n|---|---|---|%n", n));
        List<String> names = List.of("base (the student before)", "Lion (" + lion.teacherCalls() + " teacher calls)",
                "uniform imitation (" + uniform.teacherCalls() + " teacher calls)");
        List<Double> ems = List.of(base, l, u);
        List<double[]> intervals = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            double[] ci = TestSplit.interval(ems.get(i), n);
            intervals.add(ci);
            md.append(String.format(Locale.ROOT, "| %s | %.4f | [%.4f, %.4f] |%n", names.get(i), ems.get(i), ci[0], ci[1]));
        }
        Path plot = settings.dir().resolve("lion.png");
        RoundPlot.students(List.of("base", "Lion", "uniform"), ems, intervals, "Students on the test split (" + n + " prompts)", plot);
        String verdict = vs.ciLow() > 0 ? "Lion better" : vs.ciHigh() < 0 ? "uniform better" : "not distinguishable";
        md.append(String.format(Locale.ROOT, "%nLion - uniform: %+.4f [%+.4f, %+.4f] (95%%, paired): %s%n", vs.improvement(), vs.ciLow(),
                vs.ciHigh(), verdict));
        Path table = settings.dir().resolve("lion.md");
        RoundTable.write(table, md.toString());
        out.println();
        out.print(md);
        out.println("table: " + table.toAbsolutePath());
        out.println("plot: " + plot.toAbsolutePath());
        return new Outcome(base, l, u, lion.teacherCalls(), vs, n, table);
    }

    private static double mean(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return v.length == 0 ? Double.NaN : s / v.length;
    }
}
