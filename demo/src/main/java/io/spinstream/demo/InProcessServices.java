package io.spinstream.demo;

import io.micrometer.core.instrument.Counter;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.spinstream.evaluator.EvaluatorMain;
import io.spinstream.evaluator.EvaluatorService;
import io.spinstream.generator.GeneratorMain;
import io.spinstream.generator.GeneratorService;
import io.spinstream.runtime.PollingService;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.config.RoundKeys;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.config.CommonKeys;
import io.spinstream.runtime.health.MetricsServer;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.runtime.config.InitKeys;
import io.spinstream.runtime.opponent.Opponent;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.TopicProvisioner;
import io.spinstream.trainer.TrainerMain;
import io.spinstream.trainer.TrainerService;
import io.spinstream.trainer.round.RoundTrainer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;

import java.util.ArrayList;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The generator, trainer and evaluator in this JVM on one configuration (what {@code spin demo} and
 * {@code spin up} run), each with its own metrics registry, built exactly as their mains build them.
 */
public record InProcessServices(SpinContext context, HeldOutSplit split, List<PollingService> all,
                                Map<String, PrometheusMeterRegistry> metrics, String runId) implements AutoCloseable {

    /** @param values every setting by key name, connection included; checked as a service checks its own */
    public static InProcessServices start(Map<String, String> values) {
        return start(values, context -> {
        });
    }

    /**
     * @param beforeServices runs once the topics exist and before any service starts (streams published
     *                       here are there when the services first subscribe)
     */
    public static InProcessServices start(Map<String, String> values, java.util.function.Consumer<SpinContext> beforeServices) {
        ServiceConfig config = ServiceConfig.load(DemoRun.serviceKeys(), Map.of(), Optional.empty(), values);
        SpinContext context = SpinContext.from(config);
        try (Admin admin = Admin.create(context.kafka().admin())) {
            new TopicProvisioner(admin, context.registrar()).ensure(context.topics().fixed());
        }
        beforeServices.accept(context);
        PrometheusMeterRegistry g = MetricsServer.newRegistry();
        PrometheusMeterRegistry t = MetricsServer.newRegistry();
        PrometheusMeterRegistry e = MetricsServer.newRegistry();
        List<PollingService> all = List.of(
                new GeneratorService(context, GeneratorMain.settings(config), g),
                new TrainerService(context, TrainerMain.settings(config), t),
                new EvaluatorService(context, EvaluatorMain.settings(config), e));
        all.forEach(PollingService::start);
        HeldOutSplit split = RoundKeys.split(config);
        return new InProcessServices(context, split, all, Map.of("generator", g, "trainer", t, "evaluator", e),
                config.get(RoundKeys.RUN_ID));
    }

    /** The services' names, in the order of {@link #all()}. */
    public static final List<String> NAMES = List.of("generator", "trainer", "evaluator");

    /**
     * Each service's {@code /metrics} and {@code /health/*}, as the services' mains serve them: on spin.metrics.port
     * and the two ports after it (0, the default here: free ports), on spin.metrics.address. The caller closes them.
     */
    public List<MetricsServer> serveMetrics() {
        int port = context.config().get(CommonKeys.METRICS_PORT);
        String address = context.config().get(CommonKeys.METRICS_ADDRESS);
        List<MetricsServer> servers = new ArrayList<>();
        for (int i = 0; i < NAMES.size(); i++) {
            PollingService service = all.get(i);
            servers.add(new MetricsServer(new InetSocketAddress(address, port == 0 ? 0 : port + i),
                    metrics.get(NAMES.get(i)), service::deadBecause, service::isReady));
        }
        return servers;
    }

    /** Makes {@code base} the run's round-0 opponent. */
    public void promote(DemoBase.Base base) throws Exception {
        // Into the run's store first: the services read checkpoints from inside their store only.
        Path inStore = new CheckpointStore(Path.of(context.config().get(InitKeys.STORE))).copyIn(base.directory());
        OpponentPromotion p = Opponent.initial(runId, base.metadata(), inStore);
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(context.kafka().idempotentProducer())) {
            producer.send(context.topics().opponent().rawRecord(runId, p)).get();
        }
    }

    /** Throws the first service failure, if any. */
    public void checkHealthy() {
        for (PollingService s : all) {
            if (s.failure() != null) {
                throw new IllegalStateException(s.getClass().getSimpleName() + " failed: " + s.failure(), s.failure());
            }
        }
    }

    private double count(String service, String name) {
        return metrics.get(service).find(name).counters().stream().mapToDouble(Counter::count).sum();
    }

    public double answered() {
        return count("generator", "spin.generator.prompts.answered");
    }

    public double pairsTrained() {
        return count("trainer", "spin.trainer.pairs.trained");
    }

    /** Model compute so far: the generator's answering, the trainer's steps and the evaluator's scoring. */
    public double modelSeconds() {
        return time("generator", "spin.generator.model.time") + time("trainer", "spin.trainer.step.time")
                + time("evaluator", "spin.evaluator.model.time");
    }

    private double time(String service, String name) {
        return metrics.get(service).find(name).timers().stream()
                .mapToDouble(t -> t.totalTime(java.util.concurrent.TimeUnit.NANOSECONDS) / 1e9).sum();
    }

    public double trainerSteps() {
        return count("trainer", "spin.trainer.steps");
    }

    /** Whether the trainer's round stopped as converged (the trainer's own state, not a metric). */
    public boolean trainerConverged() {
        return all.stream().filter(TrainerService.class::isInstance).map(TrainerService.class::cast)
                .anyMatch(t -> t.roundState().orElse(null) == RoundTrainer.State.CONVERGED);
    }

    @Override
    public void close() {
        all.forEach(PollingService::stop);
    }
}
