package io.spinstream.evaluator;

import ai.djl.ndarray.NDManager;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import io.spinstream.evaluator.suite.OpponentAnswers;
import io.spinstream.evaluator.suite.Scoring;
import io.spinstream.evaluator.suite.Suite;
import io.spinstream.model.Generator;
import io.spinstream.model.LogProbs;
import io.spinstream.model.Sampling;
import io.spinstream.model.TokenBatch;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.checkpoint.LoadedCheckpoint;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.model.tokenizer.SpinTokenizer;
import io.spinstream.runtime.PollingService;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.deadletter.DeadLetters;
import io.spinstream.runtime.deadletter.Decoded;
import io.spinstream.runtime.deadletter.RecordDecoder;
import io.spinstream.runtime.kafka.TopicReader;
import io.spinstream.runtime.opponent.Opponent;
import io.spinstream.runtime.opponent.OpponentWatcher;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.Topics;
import io.spinstream.schemas.Verdict;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;
import java.util.regex.Pattern;

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
                           HeldOutSplit split, PromptTemplate template, int maxPrompts, int maxNewTokens, int batchSize) {
        String suiteKey() {
            return String.join("+", suites);
        }
    }

    private final SpinContext context;
    private final Settings settings;
    private final Topics topics;
    private final MeterRegistry metrics;
    private final List<Suite> suites;
    private final TopicReader reader;
    private final DeadLetters deadLetters;
    private final AtomicInteger lastVerdict = new AtomicInteger(0);
    private final Map<String, java.util.concurrent.atomic.AtomicReference<Double>> metricGauges = new HashMap<>();

    // Per opponent: its loaded model, its baseline metrics and its own answers to the held-out prompts.
    private final Map<String, Waiting> waiting = new java.util.LinkedHashMap<>();
    private Opponent opponent;
    private Map<String, Double> baseline;
    private OpponentAnswers opponentAnswers;
    private List<Prompt> baselinePrompts;

    public EvaluatorService(SpinContext context, Settings settings, MeterRegistry metrics) {
        super("evaluator", Duration.ofSeconds(120));
        this.context = context;
        this.settings = settings;
        this.topics = context.topics();
        this.metrics = metrics;
        this.suites = settings.suites().stream().map(Suite::named).toList();
        this.reader = new TopicReader(context.kafka());
        this.deadLetters = new DeadLetters(topics.deadLetters(), "evaluator:" + context.instanceId(), Clock.systemUTC());
        metrics.gauge("spin.evaluator.last.verdict", lastVerdict);
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
        try (NDManager manager = NDManager.newBaseManager();
             OpponentWatcher watcher = new OpponentWatcher(context.kafka(), topics.opponent(), settings.runId()).start();
             KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(context.kafka().transactionalProducer(
                     topics.prefix() + "-evaluator-" + settings.suiteKey() + "-" + context.instanceId()));
             KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(props);
             KafkaClientMetrics clientMetrics = new KafkaClientMetrics(c)) {
            clientMetrics.bindTo(metrics);
            producer.initTransactions();
            polling(c);
            c.subscribe(List.of(topics.checkpoints().name()));
            ready(true);
            long lastWaitingCheck = 0;
            while (running()) {
                ConsumerRecords<byte[], byte[]> polled;
                try {
                    polled = c.poll(Duration.ofMillis(500));
                } catch (WakeupException e) {
                    break;
                }
                if (System.nanoTime() - lastWaitingCheck > 2_000_000_000L) {
                    lastWaitingCheck = System.nanoTime();
                    promoteWaiting(producer, watcher);
                }
                for (ConsumerRecord<byte[], byte[]> raw : polled) {
                    Decoded<String, CheckpointEvent> decoded = decoder.decode(List.of(raw));
                    List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>(decoded.deadLetters());
                    for (Decoded.Read<String, CheckpointEvent> read : decoded.records()) {
                        out.addAll(evaluate(read.value(), watcher, manager));
                    }
                    commit(producer, c, raw, out);
                }
            }
        } finally {
            if (opponent != null) {
                opponent.close();
            }
        }
    }

    private void commit(KafkaProducer<byte[], byte[]> producer, KafkaConsumer<byte[], byte[]> c,
                        ConsumerRecord<byte[], byte[]> raw, List<ProducerRecord<byte[], byte[]>> out) {
        TopicPartition tp = new TopicPartition(raw.topic(), raw.partition());
        try {
            producer.beginTransaction();
            out.forEach(producer::send);
            producer.sendOffsetsToTransaction(Map.of(tp, new OffsetAndMetadata(raw.offset() + 1)), c.groupMetadata());
            producer.commitTransaction();
        } catch (ProducerFencedException e) {
            throw e;
        } catch (KafkaException e) {
            log.warn("transaction failed ({}); the checkpoint event will be evaluated again", e.toString());
            producer.abortTransaction();
            OffsetAndMetadata committed = c.committed(Set.of(tp)).get(tp);
            c.seek(tp, committed == null ? raw.offset() : committed.offset());
        }
    }

    /** The records an event leads to: its evaluation, and a promotion when it passes. */
    List<ProducerRecord<byte[], byte[]>> evaluate(CheckpointEvent event, OpponentWatcher watcher, NDManager manager) {
        String id = event.getCheckpointId();
        List<Evaluation> history = history();
        if (history.stream().anyMatch(e -> e.getCheckpointId().equals(id) && e.getSuite().equals(settings.suiteKey()))) {
            log.info("checkpoint {} was evaluated by suites {} already: skipping the repeated event", id, settings.suiteKey());
            metrics.counter("spin.evaluator.duplicates").increment();
            return List.of();
        }
        Optional<OpponentPromotion> current = watcher.current();
        if (current.isEmpty()) {
            try {
                current = watcher.awaitOther("", 30_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (current.isEmpty()) {
            return List.of(record(evaluation(event, "", Map.of(), Map.of(), 0, Verdict.INVALID,
                    List.of("no opponent has been promoted for run " + settings.runId()))));
        }
        OpponentPromotion opp = current.get();
        if (opp.getCheckpointId().equals(id)) {
            return List.of(record(evaluation(event, opp.getCheckpointId(), Map.of(), Map.of(), 0, Verdict.REJECT,
                    List.of("checkpoint " + id + " is the opponent already"))));
        }
        if (!opp.getCheckpointId().equals(event.getParentOpponentId())) {
            return List.of(record(evaluation(event, opp.getCheckpointId(), Map.of(), Map.of(), 0, Verdict.REJECT,
                    List.of("stale: trained from " + event.getParentOpponentId() + ", but the opponent is now "
                            + opp.getCheckpointId()))));
        }
        try {
            ensureOpponent(opp, manager);
        } catch (RuntimeException e) {
            return List.of(record(evaluation(event, opp.getCheckpointId(), Map.of(), Map.of(), 0, Verdict.INVALID,
                    List.of("the opponent " + opp.getCheckpointId() + " cannot be loaded: " + e.getMessage()))));
        }
        LoadedCheckpoint candidate;
        try {
            candidate = CheckpointStore.load(Opponent.pathOf(event.getUri()), manager);
            if (!candidate.metadata().sha256().equalsIgnoreCase(event.getSha256())) {
                candidate.close();
                throw new IllegalStateException("its sha256 " + candidate.metadata().sha256()
                        + " differs from the event's " + event.getSha256());
            }
        } catch (RuntimeException e) {
            metrics.counter("spin.evaluator.evaluations", "verdict", "INVALID").increment();
            lastVerdict.set(-1);
            return List.of(record(evaluation(event, opp.getCheckpointId(), Map.of(), baseline, baselinePrompts.size(),
                    Verdict.INVALID, List.of("candidate refused: " + e.getMessage()))));
        }
        try (candidate) {
            Map<String, Double> scores = score("candidate " + id, candidate.model(), manager);
            PromotionGate.Decision decision = settings.gate().judge(scores, baseline, baselinePrompts.size());
            List<String> reasons = new ArrayList<>(decision.reasons());
            boolean promote = decision.promote();
            if (promote) {
                Set<String> missing = missingSuites(id, history());
                if (!missing.isEmpty()) {
                    reasons.add("passes its suites; promotion waits for the required suites " + missing);
                } else if (!isPromoter()) {
                    reasons.add("every required suite passed; the evaluator of suite " + promoterSuite() + " promotes");
                }
                Evaluation ev = evaluation(event, opp.getCheckpointId(), scores, baseline, baselinePrompts.size(),
                        Verdict.PROMOTE, reasons);
                count(ev);
                List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>(List.of(record(ev)));
                if (isPromoter()) {
                    if (missing.isEmpty()) {
                        out.add(promotion(event, opp, ev));
                        log.info("promoting {} to opponent of round {}: {}", id, opp.getRound() + 1, reasons);
                    } else {
                        waiting.put(id, new Waiting(event, opp, ev));
                    }
                }
                return out;
            }
            Evaluation ev = evaluation(event, opp.getCheckpointId(), scores, baseline, baselinePrompts.size(),
                    Verdict.REJECT, reasons);
            count(ev);
            log.info("rejecting {}: {}", id, reasons);
            return List.of(record(ev));
        }
    }

    /** A candidate that passed this instance's suites and waits for the other required ones. */
    private record Waiting(CheckpointEvent event, OpponentPromotion opponent, Evaluation evaluation) {
    }

    /**
     * One evaluator promotes, so a candidate is never promoted twice: the one running the alphabetically
     * last required suite. It promotes when it passes last, or when the others' passing evaluations arrive.
     */
    private String promoterSuite() {
        return settings.requiredSuites().stream().max(String::compareTo).orElse("");
    }

    private boolean isPromoter() {
        return settings.requiredSuites().isEmpty() || settings.suites().contains(promoterSuite());
    }

    private Set<String> missingSuites(String checkpointId, List<Evaluation> history) {
        Set<String> missing = new HashSet<>(settings.requiredSuites());
        missing.removeAll(settings.suites());
        for (Evaluation e : history) {
            if (e.getCheckpointId().equals(checkpointId) && e.getVerdict() == Verdict.PROMOTE) {
                missing.removeAll(List.of(e.getSuite().split("\\+")));
            }
        }
        return missing;
    }

    /** Promotes waiting candidates whose other suites have passed since; drops those another suite refused. */
    private void promoteWaiting(KafkaProducer<byte[], byte[]> producer, OpponentWatcher watcher) {
        if (waiting.isEmpty()) {
            return;
        }
        List<Evaluation> history = history();
        for (var it = waiting.entrySet().iterator(); it.hasNext(); ) {
            var entry = it.next();
            Waiting w = entry.getValue();
            boolean refused = history.stream().anyMatch(e -> e.getCheckpointId().equals(entry.getKey())
                    && e.getVerdict() != Verdict.PROMOTE);
            boolean stale = watcher.current().map(p -> !p.getCheckpointId().equals(w.opponent().getCheckpointId())).orElse(false);
            if (refused || stale) {
                log.info("{} no longer waits for promotion: {}", entry.getKey(), refused ? "another suite refused it" : "the opponent changed");
                it.remove();
            } else if (missingSuites(entry.getKey(), history).isEmpty()) {
                producer.beginTransaction();
                producer.send(promotion(w.event(), w.opponent(), w.evaluation()));
                producer.commitTransaction();
                log.info("promoting {} to opponent of round {}: every required suite passed", entry.getKey(),
                        w.opponent().getRound() + 1);
                it.remove();
            }
        }
    }

    private void count(Evaluation ev) {
        metrics.counter("spin.evaluator.evaluations", "verdict", ev.getVerdict().name()).increment();
        lastVerdict.set(ev.getVerdict() == Verdict.PROMOTE ? 1 : ev.getVerdict() == Verdict.REJECT ? 0 : -1);
        ev.getMetrics().forEach((k, v) -> gauge(k, "candidate").set(v));
        ev.getBaselineMetrics().forEach((k, v) -> gauge(k, "baseline").set(v));
    }

    private java.util.concurrent.atomic.AtomicReference<Double> gauge(String metric, String role) {
        return metricGauges.computeIfAbsent(metric + "/" + role, k -> {
            var ref = new java.util.concurrent.atomic.AtomicReference<>(Double.NaN);
            metrics.gauge("spin.evaluator.metric", Tags.of("metric", metric, "role", role), ref, r -> r.get());
            return ref;
        });
    }

    /** Loads the opponent, its answers to the held-out prompts and its scores, once per opponent. */
    private void ensureOpponent(OpponentPromotion opp, NDManager manager) {
        List<Prompt> prompts = heldOutPrompts();
        if (opponent != null && opponent.id().equals(opp.getCheckpointId()) && prompts.equals(baselinePrompts)) {
            return;
        }
        if (opponent == null || !opponent.id().equals(opp.getCheckpointId())) {
            if (opponent != null) {
                opponent.close();
                opponent = null;
            }
            opponent = Opponent.load(opp, manager, settings.template());
        }
        baselinePrompts = prompts;
        opponentAnswers = answers(prompts, manager);
        baseline = score("opponent " + opp.getCheckpointId(), opponent.checkpoint().model(), manager);
    }

    private OpponentAnswers answers(List<Prompt> prompts, NDManager manager) {
        SpinTokenizer tok = opponent.tokenizer();
        String[] out = new String[prompts.size()];
        double[] human = new double[prompts.size()];
        double[] own = new double[prompts.size()];
        var model = opponent.checkpoint().model();
        for (int from = 0; from < prompts.size(); from += settings.batchSize()) {
            List<Prompt> chunk = prompts.subList(from, Math.min(prompts.size(), from + settings.batchSize()));
            long[] seeds = chunk.stream().mapToLong(p -> p.getPromptId().hashCode()).toArray();
            List<int[]> encoded = chunk.stream().map(p -> tok.encodePrompt(p.getPrompt())).toList();
            List<int[]> gen = new Generator(model).generate(manager, encoded,
                    new Sampling(1.0f, 1.0f, settings.maxNewTokens(), 0), seeds, true);
            List<TokenBatch.Example> ex = new ArrayList<>();
            for (int i = 0; i < chunk.size(); i++) {
                out[from + i] = tok.fitResponse(chunk.get(i).getPrompt(), tok.decode(gen.get(i)), model.config().maxPositions());
                ex.add(tok.example(chunk.get(i).getPrompt(), chunk.get(i).getHumanResponse()));
            }
            for (int i = 0; i < chunk.size(); i++) {
                ex.add(tok.example(chunk.get(i).getPrompt(), out[from + i]));
            }
            double[] lp = LogProbs.sums(model, manager, TokenBatch.of(ex, model.config().padTokenId()));
            for (int i = 0; i < chunk.size(); i++) {
                human[from + i] = lp[i];
                own[from + i] = lp[chunk.size() + i];
            }
        }
        return new OpponentAnswers(out, human, own);
    }

    private Map<String, Double> score(String what, io.spinstream.model.LlamaModel model, NDManager manager) {
        Map<String, Double> out = new TreeMap<>();
        boolean isOpponent = model == opponent.checkpoint().model();
        for (Suite suite : suites) {
            long t0 = System.nanoTime();
            long[] lastLog = {t0};
            int total = baselinePrompts.size();
            IntConsumer progress = done -> {
                long now = System.nanoTime();
                if (now - lastLog[0] > 5_000_000_000L) {
                    lastLog[0] = now;
                    double rate = done / ((now - t0) / 1e9);
                    log.info("evaluating {}: {} {}/{} prompts ({} /s, ETA {} s)", what, suite.name(), done, total,
                            String.format("%.1f", rate), String.format("%.0f", (total - done) / Math.max(rate, 1e-9)));
                }
            };
            Scoring s = new Scoring(baselinePrompts, model, opponent.tokenizer(), opponent.checkpoint().model(),
                    opponentAnswers, manager, settings.batchSize(), settings.maxNewTokens(), progress);
            Double v = isOpponent ? suite.baseline(s) : suite.score(s);
            if (v != null) {
                out.put(suite.metric().name(), v);
            }
            log.info("{}: {} = {} ({} ms)", what, suite.metric().name(), v, (System.nanoTime() - t0) / 1_000_000);
        }
        return out;
    }

    /** The held-out prompts of every stream (latest version of each id), the first {@code maxPrompts} by id. */
    List<Prompt> heldOutPrompts() {
        Map<String, Prompt> latest = new HashMap<>();
        reader.readAll(topics.promptsPattern(), r -> {
            if (r.value() == null || r.key() == null) {
                return;
            }
            try {
                Prompt p = topics.prompts(topics.streamOf(r.topic())).deserializeValue(r.value());
                if (settings.split().isHeldOut(p.getPromptId())) {
                    latest.put(p.getStream() + "/" + p.getPromptId(), p);
                }
            } catch (RuntimeException e) {
                // unreadable prompts are the generator's dead letters; they are not scored
            }
        });
        return latest.values().stream().sorted(Comparator.comparing(Prompt::getPromptId))
                .limit(settings.maxPrompts()).toList();
    }

    private List<Evaluation> history() {
        return reader.values(topics.evaluations());
    }

    private Evaluation evaluation(CheckpointEvent event, String baselineId, Map<String, Double> scores,
                                  Map<String, Double> baselineScores, int prompts, Verdict verdict, List<String> reasons) {
        return Evaluation.newBuilder().setCheckpointId(event.getCheckpointId()).setBaselineId(baselineId)
                .setRound(event.getRound()).setSuite(settings.suiteKey()).setMetrics(new HashMap<>(scores))
                .setBaselineMetrics(new HashMap<>(baselineScores == null ? Map.of() : baselineScores))
                .setHeldOutPrompts(prompts).setVerdict(verdict).setReasons(reasons).setEvaluator(context.instanceId())
                .setCreatedAt(Clock.systemUTC().instant()).build();
    }

    private ProducerRecord<byte[], byte[]> record(Evaluation e) {
        return topics.evaluations().rawRecord(e.getCheckpointId(), e);
    }

    private ProducerRecord<byte[], byte[]> promotion(CheckpointEvent event, OpponentPromotion current, Evaluation ev) {
        OpponentPromotion p = OpponentPromotion.newBuilder().setRunId(settings.runId()).setCheckpointId(event.getCheckpointId())
                .setRound(current.getRound() + 1).setUri(event.getUri()).setSha256(event.getSha256()).setEvaluation(ev)
                .setCreatedAt(Clock.systemUTC().instant()).build();
        return topics.opponent().rawRecord(settings.runId(), p);
    }
}
