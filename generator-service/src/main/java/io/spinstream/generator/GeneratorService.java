package io.spinstream.generator;

import ai.djl.ndarray.NDManager;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import io.spinstream.model.Sampling;
import io.spinstream.runtime.Backoff;
import io.spinstream.runtime.FaultKind;
import io.spinstream.runtime.FaultPoints;
import io.spinstream.runtime.PollingService;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.kafka.TransactionStep;
import io.spinstream.runtime.opponent.Opponent;
import io.spinstream.runtime.opponent.OpponentModel;
import io.spinstream.runtime.opponent.OpponentSource;
import io.spinstream.runtime.opponent.PromptAnswerer;
import io.spinstream.runtime.opponent.OpponentWatcher;
import io.spinstream.runtime.deadletter.DeadLetters;
import io.spinstream.runtime.deadletter.Decoded;
import io.spinstream.runtime.deadletter.RecordDecoder;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
import io.spinstream.schemas.Topics;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
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
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Set;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import io.spinstream.runtime.reward.RewardStep;

/**
 * Answers every prompt stream with the current opponent. One consumer group per opponent round
 * ({@code <prefix>-generator-r<round>}), subscribed by pattern, so a promotion starts a full pass over
 * every stream and the group's lag is the round's progress. Answers, dead letters and the consumed
 * offsets of a batch go out in one transaction. A new opponent is loaded after the batch in flight.
 */
public final class GeneratorService extends PollingService {
    private static final Logger log = LoggerFactory.getLogger(GeneratorService.class);

    /** What the service is told beside the common context. */
    public record Settings(String runId, int batchSize, long batchWaitMs, Sampling sampling, HeldOutSplit split,
                           OpponentSource opponents, ai.djl.Device device, int samples,
                           RewardStep rewards, Duration stuckAfter) {
        /** With spin.generator.stuck.after's default. */
        public Settings(String runId, int batchSize, long batchWaitMs, Sampling sampling, HeldOutSplit split,
                        OpponentSource opponents, ai.djl.Device device, int samples, RewardStep rewards) {
            this(runId, batchSize, batchWaitMs, sampling, split, opponents, device, samples, rewards,
                    GeneratorKeys.STUCK_AFTER.type().parse(GeneratorKeys.STUCK_AFTER.defaultValue()));
        }
    }

    private final SpinContext context;
    private final Settings settings;
    private final Topics topics;
    private final MeterRegistry metrics;
    private final DeadLetters deadLetters;
    private final RecordDecoder<String, Prompt> decoder;
    private final Counter answered;
    private final Counter rewarded;
    private final Counter rewardSum;
    private final Counter heldOut;
    private final Counter deadLettered;
    private final Counter tokens;
    private final DistributionSummary batchFill;
    /**
     * Batches' worth of prompts a flush answers (in one transaction): the rows of answers that finish early are
     * refilled from the prompts beyond the first batch, so that a batch does not idle until its longest answer.
     */
    static final int REFILL_BATCHES = 2;
    private final Timer batchTime;
    private final Timer modelTime;
    private final AtomicInteger opponentRound = new AtomicInteger(-1);

    // Owned by the worker thread.
    private final List<Decoded.Read<String, Prompt>> buffer = new ArrayList<>();
    private final List<ProducerRecord<byte[], byte[]>> pendingDeadLetters = new ArrayList<>();
    private final Map<TopicPartition, OffsetAndMetadata> pendingOffsets = new HashMap<>();
    private final Map<TopicPartition, Long> committedPositions = new HashMap<>(); // by this instance, this opponent
    private KafkaConsumer<byte[], byte[]> activeConsumer;

    public GeneratorService(SpinContext context, Settings settings, MeterRegistry metrics) {
        super("generator", Duration.ofSeconds(60));
        stuckAfter(settings.stuckAfter(), GeneratorKeys.STUCK_AFTER.name());
        this.context = context;
        this.settings = settings;
        this.topics = context.topics();
        this.metrics = metrics;
        this.deadLetters = new DeadLetters(topics.deadLetters(), "generator:" + context.instanceId(), Clock.systemUTC());
        this.decoder = new RecordDecoder<>(t -> topics.prompts(topics.streamOf(t)), deadLetters);
        this.answered = metrics.counter("spin.generator.prompts.answered");
        // Answers the verifier rewarded and the sum of their rewards: their ratio is the opponent's success rate.
        this.rewarded = metrics.counter("spin.generator.answers.rewarded");
        this.rewardSum = metrics.counter("spin.generator.answers.reward.sum");
        this.heldOut = metrics.counter("spin.generator.prompts.heldout");
        this.deadLettered = metrics.counter("spin.generator.dead.letters");
        this.tokens = metrics.counter("spin.generator.tokens.generated");
        this.batchFill = DistributionSummary.builder("spin.generator.batch.fill").description("prompts per flush / batch size (above 1: rows are refilled as answers finish)")
                .register(metrics);
        this.batchTime = metrics.timer("spin.generator.batch.time");
        // The model's part of a batch (generation and scoring), beside its whole time: the rest is Kafka,
        // serdes, rewards and batching.
        this.modelTime = metrics.timer("spin.generator.model.time");
        metrics.gauge("spin.generator.opponent.round", opponentRound);
    }

    public String groupOf(int round) {
        return topics.generatorGroup(round);
    }

    @Override
    protected void work() throws Exception {
        log.info("answers from {} on {}; rewarded by {}", settings.opponents().describe(), settings.device(), settings.rewards().describe());
        try (NDManager manager = NDManager.newBaseManager(settings.device());
             OpponentWatcher watcher = new OpponentWatcher(context.kafka(), topics.opponent(), settings.runId()).start();
             KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(
                     context.kafka().transactionalProducer(topics.prefix() + "-generator-" + context.instanceId()))) {
            watch("opponent follower", watcher::isAlive);
            producer.initTransactions();
            Backoff refusals = Backoff.standard();
            OpponentModel opponent = null;
            while (running()) {
                OpponentPromotion next = watcher.awaitOther(opponent == null ? "" : opponent.id(), 500).orElse(null);
                if (next == null) {
                    continue;
                }
                OpponentModel previous = opponent;
                opponent = null;
                try {
                    // In process, a LoRA opponent over the one loaded comes as its adapter alone, merged in place.
                    long t0 = System.nanoTime();
                    Object before = previous instanceof Opponent o ? o.checkpoint().model() : null;
                    opponent = settings.opponents().next(previous, next, manager);
                    refusals.reset();
                    log.info("opponent {} loaded in {} ms{}", opponent.id(), (System.nanoTime() - t0) / 1_000_000,
                            opponent instanceof Opponent o && o.checkpoint().model() == before
                                    ? " (its LoRA adapter merged into " + previous.id() + ")" : "");
                } catch (RuntimeException e) {
                    // Its files may still be arriving on a shared volume: try again, backing off, until it loads
                    // or another opponent is promoted.
                    ready(false);
                    log.error("cannot load opponent {}: {}; no answers until it loads (trying again in {})",
                            next.getCheckpointId(), e.getMessage(), refusals.peek());
                    metrics.counter("spin.generator.opponent.refused").increment();
                    refusals.pause();
                    continue;
                }
                opponentRound.set(opponent.round());
                answerWith(opponent, watcher, producer, manager);
            }
            if (opponent != null) {
                opponent.close();
            }
        }
    }

    /** Answers with {@code opponent} until it is replaced or the service stops. */
    private void answerWith(OpponentModel opponent, OpponentWatcher watcher, KafkaProducer<byte[], byte[]> producer,
                            NDManager manager) {
        PromptAnswerer answerer = new PromptAnswerer(opponent, settings.sampling(), context.instanceId(), Clock.systemUTC(),
                settings.samples());
        String group = groupOf(opponent.round());
        committedPositions.clear();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(consumerProps(group));
             KafkaClientMetrics clientMetrics = new KafkaClientMetrics(c)) {
            clientMetrics.bindTo(metrics);
            polling(c);
            activeConsumer = c;
            c.subscribe(topics.promptsPattern(), new DropOnRevoke());
            ready(true);
            log.info("answering every stream with {} (round {}) in group {}", opponent.id(), opponent.round(), group);
            long batchStarted = 0;
            Backoff outage = Backoff.standard();
            while (running() && watcher.current().map(p -> p.getCheckpointId().equals(opponent.id())).orElse(true)) {
                ConsumerRecords<byte[], byte[]> polled;
                try {
                    polled = c.poll(Duration.ofMillis(Math.min(100, settings.batchWaitMs())));
                } catch (WakeupException e) {
                    break;
                }
                if (!polled.isEmpty() && buffer.isEmpty() && pendingOffsets.isEmpty()) {
                    batchStarted = System.nanoTime();
                }
                try {
                    working(polled.count() + " prompts read and " + buffer.size() + " buffered");
                    accept(polled, answerer);
                    if (polled.isEmpty() && buffer.isEmpty() && pendingOffsets.isEmpty()) {
                        commitPositionsPastMarkers(c);
                    }
                    boolean full = buffer.size() >= REFILL_BATCHES * settings.batchSize();
                    boolean waited = (System.nanoTime() - batchStarted) / 1_000_000 >= settings.batchWaitMs();
                    if (!pendingOffsets.isEmpty() && (full || waited)) {
                        flush(c, producer, answerer, manager);
                    }
                    outage.reset();
                } catch (RuntimeException e) {
                    if (!FaultKind.isTransient(e)) {
                        throw e;
                    }
                    retryLater(c, e, outage);
                } finally {
                    idle();
                }
            }
            // The batch in flight is finished before the opponent changes or the service stops; if an outage
            // prevents it, it is left uncommitted and read again (by this group's next owner, or not at all
            // once a newer opponent's pass has begun).
            if (!pendingOffsets.isEmpty()) {
                try {
                    flush(c, producer, answerer, manager);
                } catch (RuntimeException e) {
                    if (!FaultKind.isTransient(e)) {
                        throw e;
                    }
                    log.warn("the last batch of {} is left uncommitted ({})", opponent.id(), e.getMessage());
                    clear();
                }
            }
        } finally {
            polling(null);
            ready(false);
            clear();
        }
    }

    private void countRewards(List<SyntheticResponse> answers) {
        for (SyntheticResponse a : answers) {
            List<Double> rewards = a.getSamples().isEmpty() ? java.util.Collections.singletonList(a.getReward())
                    : a.getSamples().stream().map(io.spinstream.schemas.CandidateSample::getReward).toList();
            for (Double r : rewards) {
                if (r != null) {
                    rewarded.increment();
                    rewardSum.increment(r);
                }
            }
        }
    }

    /**
     * The registry or the broker could not be reached while a batch was read or answered: forget the
     * uncommitted batch, rewind to the committed offsets and back off. Nothing is dead-lettered or committed.
     */
    private void retryLater(KafkaConsumer<byte[], byte[]> c, RuntimeException e, Backoff outage) {
        log.warn("transient fault ({}); the uncommitted batch is read again in {}", e.getMessage(), outage.peek());
        clear();
        metrics.counter("spin.generator.transient.faults").increment();
        while (true) { // the rewind must happen: records polled after the committed offsets would be skipped
            try {
                outage.pauseOrThrow();
                TransactionStep.rewind(c, c.assignment());
                return;
            } catch (RuntimeException again) {
                if (!FaultKind.isTransient(again)) { // an interrupt too
                    throw again;
                }
                log.warn("rewinding failed ({}); trying again in {}", again.getMessage(), outage.peek());
            }
        }
    }

    private Map<String, Object> consumerProps(String group) {
        Map<String, Object> props = context.kafka().readCommittedConsumer(group);
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, settings.batchSize());
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, group + "-" + context.instanceId());
        return props;
    }

    private void accept(ConsumerRecords<byte[], byte[]> polled, PromptAnswerer answerer) {
        if (polled.isEmpty()) {
            return;
        }
        Decoded<String, Prompt> decoded = decoder.decode(polled);
        pendingDeadLetters.addAll(decoded.deadLetters());
        for (Decoded.Read<String, Prompt> read : decoded.records()) {
            if (!read.value().getPromptId().equals(read.key())) {
                // Answers are keyed by prompt_id and joined by record key: a mismatch would pair the wrong texts.
                pendingDeadLetters.add(deadLetters.record(read.raw(), "record key '" + read.key()
                        + "' is not the prompt's prompt_id '" + read.value().getPromptId() + "'"));
                continue;
            }
            if (!settings.split().isTraining(read.value().getPromptId())) { // held out for the gate, or test
                heldOut.increment();
                continue;
            }
            String problem = answerer.invalid(read.value());
            if (problem == null) {
                problem = settings.rewards().invalid(read.value());
            }
            if (problem != null) {
                pendingDeadLetters.add(deadLetters.record(read.raw(), problem));
                continue;
            }
            buffer.add(read);
        }
        for (ConsumerRecord<byte[], byte[]> r : polled) {
            pendingOffsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
        }
    }

    /** Answers the buffered prompts and commits answers, dead letters and offsets in one transaction. */
    private void flush(KafkaConsumer<byte[], byte[]> c, KafkaProducer<byte[], byte[]> producer, PromptAnswerer answerer,
                       NDManager manager) {
        long t0 = System.nanoTime();
        List<SyntheticResponse> answers = new ArrayList<>();
        long m0 = System.nanoTime();
        // batch.size rows at a time; the prompts beyond take the rows of answers that have finished.
        List<PromptAnswerer.Answered> made = buffer.isEmpty() ? List.of()
                : answerer.answerEach(manager, buffer.stream().map(Decoded.Read::value).toList(), settings.batchSize());
        modelTime.record(Duration.ofNanos(System.nanoTime() - m0));
        for (int i = 0; i < made.size(); i++) {
            // An unreachable model server or reward model throws (transient: the whole batch is read again); a
            // refusal of this prompt is its dead letter.
            if (made.get(i) instanceof PromptAnswerer.Answered.Refused r) {
                pendingDeadLetters.add(deadLetters.record(buffer.get(i).raw(), r.reason()));
                continue;
            }
            try {
                answers.add(settings.rewards().reward(buffer.get(i).value(), ((PromptAnswerer.Answered.Made) made.get(i)).response()));
            } catch (io.spinstream.runtime.http.JsonEndpoint.Refused e) {
                pendingDeadLetters.add(deadLetters.record(buffer.get(i).raw(), e.getMessage()));
            }
        }
        batchFill.record((double) buffer.size() / settings.batchSize());
        List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>();
        answers.forEach(a -> out.add(topics.synthetic().rawRecord(a.getPromptId(), a)));
        out.addAll(pendingDeadLetters);
        // Every polled record is in this batch, so the position is where the group resumes; it also lies past
        // transaction markers, so a finished pass shows lag 0 (which is how the trainer sees a round's end).
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : pendingOffsets.entrySet()) {
            long position = c.position(e.getKey());
            if (position > e.getValue().offset()) {
                e.setValue(new OffsetAndMetadata(position));
            }
        }
        if (!new TransactionStep(producer, c, Backoff::standard, () -> context.faults().reach(FaultPoints.GENERATOR_SENT))
                .commit(out, new HashMap<>(pendingOffsets))) {
            clear();
            return;
        }
        pendingOffsets.forEach((tp, o) -> committedPositions.put(tp, o.offset()));
        answered.increment(answers.size());
        countRewards(answers);
        deadLettered.increment(pendingDeadLetters.size());
        tokens.increment(answers.stream().mapToLong(SyntheticResponse::getResponseTokens).sum());
        batchTime.record(Duration.ofNanos(System.nanoTime() - t0));
        clear();
    }

    /**
     * With nothing buffered, a position beyond what was committed can only be transaction markers or
     * aborted records read after the last batch: commit it (offsets only), so the group's lag reaches 0 at
     * the end of a pass.
     */
    private void commitPositionsPastMarkers(KafkaConsumer<byte[], byte[]> c) {
        for (TopicPartition tp : c.assignment()) {
            Long committed = committedPositions.get(tp);
            if (committed != null) {
                long position = c.position(tp);
                if (position > committed) {
                    pendingOffsets.put(tp, new OffsetAndMetadata(position));
                }
            }
        }
    }

    private void clear() {
        buffer.clear();
        pendingDeadLetters.clear();
        pendingOffsets.clear();
    }

    /**
     * Records polled from a partition this instance loses are dropped uncommitted: the new owner reads
     * them again from the committed offset, so nothing is answered twice or lost.
     */
    private final class DropOnRevoke implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            drop(partitions);
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            drop(partitions);
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            // Positions start at the committed offsets; knowing them lets an idle pass commit past records it
            // never sees (a partition holding only aborted records and markers), so its lag reaches 0.
            if (activeConsumer != null && !partitions.isEmpty()) {
                activeConsumer.committed(new HashSet<>(partitions)).forEach((tp, o) ->
                        committedPositions.putIfAbsent(tp, o == null ? 0L : o.offset()));
                partitions.forEach(tp -> committedPositions.putIfAbsent(tp, 0L));
            }
        }

        /** Forgets the whole uncommitted batch; partitions kept are rewound to their committed offsets. */
        private void drop(Collection<TopicPartition> revoked) {
            if (revoked.isEmpty() || pendingOffsets.isEmpty()) {
                return;
            }
            Set<TopicPartition> kept = new HashSet<>(pendingOffsets.keySet());
            kept.removeAll(revoked);
            clear();
            if (activeConsumer != null && !kept.isEmpty()) {
                TransactionStep.rewind(activeConsumer, kept);
            }
        }
    }
}
