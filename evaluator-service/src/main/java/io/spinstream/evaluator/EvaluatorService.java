package io.spinstream.evaluator;

import ai.djl.ndarray.NDManager;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import io.spinstream.evaluator.suite.SuiteRunner;
import io.spinstream.model.checkpoint.LoadedCheckpoint;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.Backoff;
import io.spinstream.runtime.FaultKind;
import io.spinstream.runtime.FaultPoints;
import io.spinstream.runtime.PollingService;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.deadletter.DeadLetters;
import io.spinstream.runtime.deadletter.Decoded;
import io.spinstream.runtime.deadletter.RecordDecoder;
import io.spinstream.runtime.evaluation.EvaluationHistory;
import io.spinstream.runtime.kafka.TopicReader;
import io.spinstream.runtime.kafka.TransactionStep;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.opponent.OpponentWatcher;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.MetricTest;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Topics;
import io.spinstream.schemas.Verdict;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
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
                           CheckpointLocation location, ai.djl.Device device, io.spinstream.model.Precision precision) {
        String suiteKey() {
            return String.join("+", suites);
        }
    }

    private final SpinContext context;
    private final Settings settings;
    private final Topics topics;
    private final MeterRegistry registry;
    private final EvaluatorMetrics metrics;
    private final DeadLetters deadLetters;
    private final Clock clock = Clock.systemUTC();
    private final CandidateScreen screen;
    private final PromotionCoordinator coordinator;
    private final HeldOutPrompts heldOut;

    public EvaluatorService(SpinContext context, Settings settings, MeterRegistry registry) {
        super("evaluator", Duration.ofSeconds(120));
        this.context = context;
        this.settings = settings;
        this.topics = context.topics();
        this.registry = registry;
        this.metrics = new EvaluatorMetrics(registry);
        this.deadLetters = new DeadLetters(topics.deadLetters(), "evaluator:" + context.instanceId(), clock);
        this.screen = new CandidateScreen(settings.runId(), settings.suiteKey());
        this.coordinator = new PromotionCoordinator(settings.suites(), settings.requiredSuites());
        this.heldOut = new HeldOutPrompts(new TopicReader(context.kafka()), topics, settings.split(), settings.maxPrompts());
    }

    public String group() {
        return topics.prefix() + "-evaluator-" + settings.suiteKey();
    }

    @Override
    protected void work() throws Exception {
        RecordDecoder<String, CheckpointEvent> decoder = new RecordDecoder<>(t -> topics.checkpoints(), deadLetters);
        Map<String, Object> props = context.kafka().readCommittedConsumer(group());
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1); // one evaluation per transaction
        props.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, 30 * 60 * 1000); // an evaluation may take minutes
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
            polling(c);
            c.subscribe(List.of(topics.checkpoints().name()));
            TransactionStep transaction = new TransactionStep(producer, c, Backoff::standard,
                    () -> context.faults().reach(FaultPoints.EVALUATOR_SENT));
            recoverWaiting(c, history, watcher);
            ready(true);
            long lastWaitingCheck = 0;
            Backoff outage = Backoff.standard();
            while (running()) {
                List<ConsumerRecord<byte[], byte[]>> polled = new ArrayList<>();
                try {
                    c.poll(Duration.ofMillis(500)).forEach(polled::add);
                } catch (WakeupException e) {
                    break;
                }
                try {
                    if (coordinator.waitingCount() > 0 && clock.millis() - lastWaitingCheck > 2000) {
                        lastWaitingCheck = clock.millis();
                        sync(c, history, watcher, transaction);
                        promoteWaiting(transaction, history, watcher);
                    }
                    for (ConsumerRecord<byte[], byte[]> raw : polled) {
                        Decoded<String, CheckpointEvent> decoded = decoder.decode(List.of(raw));
                        List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>(decoded.deadLetters());
                        for (Decoded.Read<String, CheckpointEvent> read : decoded.records()) {
                            sync(c, history, watcher, transaction);
                            out.addAll(evaluate(read.value(), watcher, history, baseline, manager));
                        }
                        boolean committed = transaction.commit(out, Map.of(new TopicPartition(raw.topic(), raw.partition()),
                                new OffsetAndMetadata(raw.offset() + 1)));
                        if (committed && coordinator.waitingCount() > 0) {
                            context.faults().reach(FaultPoints.EVALUATOR_WAITING);
                        }
                    }
                    outage.reset();
                } catch (RuntimeException e) {
                    if (!FaultKind.isTransient(e)) {
                        throw e;
                    }
                    // Nothing of the event is committed: it is evaluated again once the fault has passed.
                    log.warn("transient fault ({}); the event is evaluated again in {}", e.getMessage(), outage.peek());
                    metrics.transientFault();
                    outage.pause();
                    rewindAll(c, outage);
                }
            }
        }
    }

    /**
     * After a restart: the candidates this evaluator passed that wait for another suite were kept in
     * memory only; they are found again in the history (passed here, trained from the opponent in force,
     * not promoted), so a crash while one waits never loses its promotion.
     */
    private void recoverWaiting(KafkaConsumer<byte[], byte[]> c, EvaluationHistory history, OpponentWatcher watcher)
            throws InterruptedException {
        if (!coordinator.mayWait()) {
            return; // nothing ever waits here: every required suite is run here, or another evaluator promotes
        }
        sync(c, history, watcher, null);
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

    /**
     * Reads the evaluations and the promotions committed so far: a decision never misses an evaluation of
     * another suite or a promotion just written (two candidates of one opponent give one promotion).
     */
    private static void sync(KafkaConsumer<byte[], byte[]> c, EvaluationHistory history, OpponentWatcher watcher,
                             TransactionStep own) throws InterruptedException {
        Map<TopicPartition, Long> written = own == null ? Map.of() : own.written();
        history.syncWith(c, Duration.ofSeconds(30), written);
        watcher.syncWith(c, Duration.ofSeconds(30), written);
    }

    /** Rewinds to the committed offsets, however long the broker takes to answer. */
    private static void rewindAll(KafkaConsumer<byte[], byte[]> c, Backoff outage) throws InterruptedException {
        while (true) {
            try {
                TransactionStep.rewind(c, c.assignment());
                return;
            } catch (RuntimeException e) {
                if (!FaultKind.isTransient(e)) {
                    throw e;
                }
                outage.pause();
            }
        }
    }

    /** The records an event leads to: its evaluation, and a promotion when it passes. */
    private List<ProducerRecord<byte[], byte[]>> evaluate(CheckpointEvent event, OpponentWatcher watcher,
                                                         EvaluationHistory history, OpponentBaseline baseline, NDManager manager)
            throws InterruptedException {
        Optional<OpponentPromotion> current = watcher.current();
        if (current.isEmpty()) {
            current = watcher.awaitOther("", 30_000);
        }
        OpponentPromotion opp;
        switch (screen.screen(event, current, history.all())) {
            case CandidateScreen.Outcome.Skip skip -> {
                log.info("{}: skipping the repeated event", skip.reason());
                metrics.duplicate();
                return List.of();
            }
            case CandidateScreen.Outcome.Settled settled -> {
                log.info("{}: not scored", settled.reason());
                return List.of();
            }
            case CandidateScreen.Outcome.Refuse r -> {
                return List.of(record(evaluation(event, r.baselineId(), Map.of(), Map.of(), 0, r.verdict(), List.of(r.reason()))));
            }
            case CandidateScreen.Outcome.Score s -> opp = s.opponent();
        }
        try {
            List<io.spinstream.schemas.Prompt> prompts = heldOut.read();
            metrics.modelTime().record(() -> baseline.ensure(opp, prompts, manager, settings.location(), settings.precision()));
        } catch (RuntimeException e) {
            if (FaultKind.isTransient(e)) {
                throw e; // its files are not there yet, or a topic cannot be read: not the candidate's fault
            }
            return List.of(record(evaluation(event, opp.getCheckpointId(), Map.of(), Map.of(), 0, Verdict.INVALID,
                    List.of("the opponent " + opp.getCheckpointId() + " cannot be loaded: " + e.getMessage()))));
        }
        LoadedCheckpoint candidate;
        try {
            candidate = CandidateScreen.load(event, manager, settings.location(), settings.precision());
        } catch (RuntimeException e) {
            if (FaultKind.isTransient(e)) {
                throw e; // INVALID only for files that are there and wrong (checksum, format)
            }
            return List.of(counted(evaluation(event, opp.getCheckpointId(), Map.of(), baseline.metrics(), baseline.prompts(),
                    Verdict.INVALID, List.of("candidate refused: " + e.getMessage()))));
        }
        try (candidate) {
            Map<String, double[]> perPrompt = metrics.modelTime().record(
                    () -> baseline.score("candidate " + event.getCheckpointId(), candidate.model(), manager));
            Map<String, Double> scores = SuiteRunner.means(perPrompt);
            PromotionGate.Decision decision = settings.gate().judge(perPrompt, baseline.perPrompt(), baseline.prompts());
            List<String> reasons = new ArrayList<>(decision.reasons());
            if (!decision.promote()) {
                log.info("rejecting {}: {}", event.getCheckpointId(), reasons);
                return List.of(counted(tested(evaluation(event, opp.getCheckpointId(), scores, baseline.metrics(),
                        baseline.prompts(), Verdict.REJECT, reasons), decision)));
            }
            PromotionCoordinator.Pass pass = coordinator.passed(event.getCheckpointId(), history.all());
            if (pass.reason() != null) {
                reasons.add(pass.reason());
            }
            Evaluation ev = tested(evaluation(event, opp.getCheckpointId(), scores, baseline.metrics(), baseline.prompts(),
                    Verdict.PROMOTE, reasons), decision);
            List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>(List.of(counted(ev)));
            if (pass.promoteNow()) {
                out.add(promotion(event, opp, ev));
                log.info("promoting {} to opponent of round {}: {}", event.getCheckpointId(), opp.getRound() + 1, reasons);
            } else {
                coordinator.await(new PromotionCoordinator.Waiting(event, opp, ev));
            }
            return out;
        }
    }

    /** Promotes waiting candidates whose other suites have passed since. */
    private void promoteWaiting(TransactionStep transaction, EvaluationHistory history, OpponentWatcher watcher) {
        String opponentId = watcher.current().map(OpponentPromotion::getCheckpointId).orElse(null);
        for (PromotionCoordinator.Waiting w : coordinator.due(history.all(), opponentId)) {
            if (transaction.commit(List.of(promotion(w.event(), w.opponent(), w.evaluation())), Map.of())) {
                coordinator.promoted(w.event().getCheckpointId());
                log.info("promoting {} to opponent of round {}: every required suite passed", w.event().getCheckpointId(),
                        w.opponent().getRound() + 1);
            }
        }
    }

    private Evaluation evaluation(CheckpointEvent event, String baselineId, Map<String, Double> scores,
                                  Map<String, Double> baselineScores, int prompts, Verdict verdict, List<String> reasons) {
        return Evaluation.newBuilder().setCheckpointId(event.getCheckpointId()).setBaselineId(baselineId)
                .setRound(event.getRound()).setSuite(settings.suiteKey()).setMetrics(new HashMap<>(scores))
                .setBaselineMetrics(new HashMap<>(baselineScores == null ? Map.of() : baselineScores))
                .setHeldOutPrompts(prompts).setVerdict(verdict).setReasons(reasons).setEvaluator(context.instanceId())
                .setCreatedAt(clock.instant()).build();
    }

    /** The evaluation with the gate's paired test of every metric. */
    private static Evaluation tested(Evaluation e, PromotionGate.Decision decision) {
        Map<String, MetricTest> tests = new HashMap<>();
        decision.tests().forEach((metric, t) -> tests.put(metric, t.toRecord()));
        e.setTests(tests);
        return e;
    }

    private ProducerRecord<byte[], byte[]> counted(Evaluation e) {
        metrics.evaluated(e);
        return record(e);
    }

    private ProducerRecord<byte[], byte[]> record(Evaluation e) {
        return topics.evaluations().rawRecord(e.getCheckpointId(), e);
    }

    private ProducerRecord<byte[], byte[]> promotion(CheckpointEvent event, OpponentPromotion current, Evaluation ev) {
        OpponentPromotion p = OpponentPromotion.newBuilder().setRunId(settings.runId()).setCheckpointId(event.getCheckpointId())
                .setRound(current.getRound() + 1).setUri(event.getUri()).setSha256(event.getSha256()).setEvaluation(ev)
                .setCreatedAt(clock.instant()).build();
        return topics.opponent().rawRecord(settings.runId(), p);
    }
}
