package io.spinstream.generator;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import io.spinstream.model.Sampling;
import io.spinstream.runtime.Backoff;
import io.spinstream.runtime.FaultPoints;
import io.spinstream.runtime.PollingService;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.deadletter.DeadLetters;
import io.spinstream.runtime.deadletter.Decoded;
import io.spinstream.runtime.deadletter.RecordDecoder;
import io.spinstream.runtime.kafka.ExactlyOnceLoop;
import io.spinstream.runtime.kafka.GroupLagWatcher;
import io.spinstream.runtime.opponent.OpponentModel;
import io.spinstream.runtime.opponent.OpponentSource;
import io.spinstream.runtime.opponent.OpponentWatcher;
import io.spinstream.runtime.opponent.PromptAnswerer;
import io.spinstream.runtime.reward.RewardStep;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
import io.spinstream.schemas.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Answers every prompt stream with the current opponent on the runtime's exactly-once loop ({@link AnswerBatch} decides
 * what each prompt becomes). One consumer group per opponent round ({@code <prefix>-generator-r<round>}), subscribed
 * by pattern: a promotion starts a full pass over every stream, and the group's lag is the round's progress.
 */
public final class GeneratorService extends PollingService {
    private static final Logger log = LoggerFactory.getLogger(GeneratorService.class);

    /** What the service is told beside the common context. */
    public record Settings(String runId, int batchSize, long batchWaitMs, Sampling sampling, HeldOutSplit split,
                           OpponentSource opponents, Device device, int samples, RewardStep rewards, Duration stuckAfter) {
    }

    private final SpinContext context;
    private final Settings settings;
    private final Topics topics;
    private final MeterRegistry registry;
    private final GeneratorMetrics metrics;
    private final DeadLetters deadLetters;
    private final RecordDecoder<String, Prompt> decoder;
    /** Batches' worth of prompts a flush answers: rows whose answers finish early take the prompts beyond the first. */
    static final int REFILL_BATCHES = 2;

    public GeneratorService(SpinContext context, Settings settings, MeterRegistry registry) {
        super("generator", Duration.ofSeconds(60));
        stuckAfter(settings.stuckAfter(), GeneratorKeys.STUCK_AFTER.name());
        this.context = context;
        this.settings = settings;
        this.topics = context.topics();
        this.registry = registry;
        this.metrics = new GeneratorMetrics(registry);
        this.deadLetters = new DeadLetters(topics.deadLetters(), "generator:" + context.instanceId(), Clock.systemUTC());
        this.decoder = new RecordDecoder<>(t -> topics.prompts(topics.streamOf(t)), deadLetters);
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
            try (OpponentSwitch opponents = new OpponentSwitch(settings.opponents(), metrics, this::ready);
                 GroupLagWatcher lag = new GroupLagWatcher(Admin.create(context.kafka().admin()), () -> Optional.ofNullable(opponents
                         .current()).map(o -> topics.generatorGroup(o.round())), topics.promptsPattern(), Duration.ofSeconds(5), metrics::lag)) {
                while (running()) {
                    Optional<OpponentPromotion> next = watcher.awaitOther(opponents.currentId(), 500);
                    if (next.isPresent() && opponents.to(next.get(), manager)) {
                        answerWith(opponents.current(), watcher, producer, manager);
                    }
                }
            }
        }
    }

    /**
     * Answers every stream with {@code opponent} in its round's group until it is replaced or the service stops. The batch in
     * hand is finished first; if an outage prevents it, the group's next reader reads it (or none, past a newer opponent).
     */
    private void answerWith(OpponentModel opponent, OpponentWatcher watcher, KafkaProducer<byte[], byte[]> producer,
                            NDManager manager) throws Exception {
        AnswerBatch answers = new AnswerBatch(new PromptAnswerer(opponent, settings.sampling(), context.instanceId(),
                Clock.systemUTC(), settings.samples()), settings.split(), settings.rewards(), settings.batchSize(), metrics);
        String group = topics.generatorGroup(opponent.round());
        Map<String, Object> props = context.kafka().readCommittedConsumer(group);
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, settings.batchSize());
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, group + "-" + context.instanceId());
        ExactlyOnceLoop.Settings loop = new ExactlyOnceLoop.Settings("generator",
                Duration.ofMillis(Math.min(100, settings.batchWaitMs())), REFILL_BATCHES * settings.batchSize(),
                Duration.ofMillis(settings.batchWaitMs()), Backoff::standard,
                () -> context.faults().reach(FaultPoints.GENERATOR_SENT), metrics::transientFault);
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(props);
             KafkaClientMetrics clientMetrics = new KafkaClientMetrics(c)) {
            clientMetrics.bindTo(registry);
            log.info("answering every stream with {} (round {}) in group {}", opponent.id(), opponent.round(), group);
            new ExactlyOnceLoop(worker(), c, producer, loop, (batch, session) -> answered(batch, answers, manager))
                    .subscribe(topics.promptsPattern())
                    .run(() -> watcher.current().map(p -> p.getCheckpointId().equals(opponent.id())).orElse(true));
        }
    }

    /** A batch's answers and dead letters, counted once they are committed. */
    private ExactlyOnceLoop.Output answered(List<ConsumerRecord<byte[], byte[]>> batch, AnswerBatch answers, NDManager manager) {
        long t0 = System.nanoTime();
        Decoded<String, Prompt> decoded = decoder.decode(batch);
        List<Decoded.Read<String, Prompt>> reads = decoded.records();
        List<AnswerBatch.Outcome> outcomes = answers.answer(manager,
                reads.stream().map(r -> new AnswerBatch.Asked(r.key(), r.value())).toList());
        List<SyntheticResponse> made = new ArrayList<>();
        List<ProducerRecord<byte[], byte[]>> letters = new ArrayList<>(decoded.deadLetters());
        for (int i = 0; i < outcomes.size(); i++) {
            if (outcomes.get(i) instanceof AnswerBatch.Outcome.Answered a) {
                made.add(a.answer());
            } else if (outcomes.get(i) instanceof AnswerBatch.Outcome.Refused r) {
                letters.add(deadLetters.record(reads.get(i).raw(), r.reason()));
            }
        }
        int heldOut = (int) outcomes.stream().filter(AnswerBatch.Outcome.HeldOut.class::isInstance).count();
        List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>();
        made.forEach(a -> out.add(topics.synthetic().rawRecord(a.getPromptId(), a)));
        out.addAll(letters);
        return new ExactlyOnceLoop.Output(out, () -> metrics.committed(made, letters.size(), heldOut, settings.batchSize(),
                Duration.ofNanos(System.nanoTime() - t0)));
    }
}
