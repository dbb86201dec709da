package io.spinstream.evaluator;

import io.spinstream.evaluator.gate.PromotionGate;
import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import io.spinstream.evaluator.suite.Suite;
import io.spinstream.evaluator.suite.SuiteRunner;
import io.spinstream.model.Precision;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.Backoff;
import io.spinstream.runtime.FaultPoints;
import io.spinstream.runtime.PollingService;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.deadletter.DeadLetters;
import io.spinstream.runtime.deadletter.RecordDecoder;
import io.spinstream.runtime.evaluation.EvaluationHistory;
import io.spinstream.runtime.kafka.ExactlyOnceLoop;
import io.spinstream.runtime.kafka.TopicReader;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.opponent.OpponentWatcher;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Topics;
import io.spinstream.schemas.Verdict;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Scores every candidate checkpoint against the current opponent on the held-out prompts of every stream
 * and promotes it only when the gate passes. The evaluation, the promotion and the consumed offset of
 * the checkpoint event are written in one transaction; a checkpoint already evaluated by this suite set
 * (a re-delivered event) is skipped, and a checkpoint never becomes the opponent twice.
 */
public final class EvaluatorService extends PollingService {
    private static final Logger log = LoggerFactory.getLogger(EvaluatorService.class);

    /** What the service is told beside the common context. */
    public record Settings(String runId, List<String> suites, List<String> requiredSuites, PromotionGate gate,
                           HeldOutSplit split, PromptTemplate template, int maxPrompts, int maxNewTokens, int batchSize,
                           CheckpointLocation location, Device device, Precision precision) {
        String suiteKey() {
            return String.join("+", suites);
        }
    }

    private final SpinContext context;
    private final Settings settings;
    private final Topics topics;
    private final MeterRegistry registry;
    private final EvaluatorMetrics metrics;
    private final Clock clock = Clock.systemUTC();
    private final PromotionCoordinator coordinator;
    private final HeldOutPrompts heldOut;

    public EvaluatorService(SpinContext context, Settings settings, MeterRegistry registry) {
        super("evaluator", Duration.ofSeconds(120));
        this.context = context;
        this.settings = settings;
        this.topics = context.topics();
        this.registry = registry;
        this.metrics = new EvaluatorMetrics(registry, settings.suites().stream().map(s -> Suite.named(s).metric().name()).toList());
        this.coordinator = new PromotionCoordinator(settings.suites(), settings.requiredSuites());
        this.heldOut = new HeldOutPrompts(new TopicReader(context.kafka()), topics, settings.split(), settings.maxPrompts());
    }

    public String group() {
        return topics.prefix() + "-evaluator-" + settings.suiteKey();
    }

    @Override
    protected void work() throws Exception {
        DeadLetters deadLetters = new DeadLetters(topics.deadLetters(), "evaluator:" + context.instanceId(), clock);
        RecordDecoder<String, CheckpointEvent> decoder = new RecordDecoder<>(t -> topics.checkpoints(), deadLetters);
        Map<String, Object> props = context.kafka().readCommittedConsumer(group());
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1); // one evaluation per transaction
        props.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, 30 * 60 * 1000); // an evaluation may take minutes
        ExactlyOnceLoop.Settings loopSettings = new ExactlyOnceLoop.Settings("evaluator", Duration.ofMillis(500), 1,
                Duration.ZERO, Backoff::standard, () -> context.faults().reach(FaultPoints.EVALUATOR_SENT), metrics::transientFault);
        log.info("computing on {}", settings.device());
        try (NDManager manager = NDManager.newBaseManager(settings.device());
             OpponentWatcher watcher = new OpponentWatcher(context.kafka(), topics.opponent(), settings.runId()).start();
             EvaluationHistory history = new EvaluationHistory(context.kafka(), topics.evaluations());
             OpponentBaseline baseline = new OpponentBaseline(SuiteRunner.of(settings.suites(), settings.batchSize(),
                     settings.maxNewTokens()), settings.template(), settings.maxNewTokens(), settings.batchSize(), context.instanceId());
             KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(context.kafka().transactionalProducer(
                     topics.prefix() + "-evaluator-" + settings.suiteKey() + "-" + context.instanceId()));
             KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(props);
             KafkaClientMetrics clientMetrics = new KafkaClientMetrics(c)) {
            clientMetrics.bindTo(registry);
            watch("opponent follower", watcher::isAlive);
            watch("evaluations follower", history::isAlive);
            producer.initTransactions();
            CandidateJudge judge = new CandidateJudge(new CandidateJudge.Settings(settings.runId(), settings.suiteKey(),
                    settings.gate(), settings.location(), settings.precision(), context.instanceId()), coordinator, baseline, metrics, clock);
            EvaluationStep step = new EvaluationStep(topics, settings.runId(), judge, coordinator, decoder, history, watcher,
                    heldOut::read, manager, metrics, () -> context.faults().reach(FaultPoints.EVALUATOR_WAITING), clock);
            ExactlyOnceLoop loop = new ExactlyOnceLoop(worker(), c, producer, loopSettings, step)
                    .subscribe(List.of(topics.checkpoints().name()));
            recoverWaiting(loop.session(), history, watcher);
            loop.run(() -> true);
        }
    }

    /**
     * After a restart: the candidates this evaluator passed that wait for another suite were kept in
     * memory only; they are found again in the history (passed here, trained from the opponent in force,
     * not promoted), so a crash while one waits never loses its promotion.
     */
    private void recoverWaiting(ExactlyOnceLoop.Session session, EvaluationHistory history, OpponentWatcher watcher)
            throws InterruptedException {
        if (!coordinator.mayWait()) {
            return; // nothing ever waits here: every required suite is run here, or another evaluator promotes
        }
        EvaluationStep.sync(session, history, watcher);
        Optional<OpponentPromotion> current = watcher.current();
        if (current.isEmpty()) {
            return;
        }
        String opponentId = current.get().getCheckpointId();
        List<Evaluation> passed = history.all().stream().filter(e -> e.getSuite().equals(settings.suiteKey())
                && e.getVerdict() == Verdict.PROMOTE && e.getBaselineId().equals(opponentId)).toList();
        if (passed.isEmpty()) {
            return;
        }
        Map<String, CheckpointEvent> events = new HashMap<>();
        new TopicReader(context.kafka()).values(topics.checkpoints()).forEach(e -> events.put(e.getCheckpointId(), e));
        for (Evaluation e : passed) {
            CheckpointEvent event = events.get(e.getCheckpointId());
            if (event != null) {
                coordinator.await(new PromotionCoordinator.Waiting(event, current.get(), e));
                log.info("{} passed suites {} before a restart and waits for the other required suites again",
                        e.getCheckpointId(), settings.suiteKey());
            }
        }
    }
}
