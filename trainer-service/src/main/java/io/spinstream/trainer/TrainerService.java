package io.spinstream.trainer;

import ai.djl.ndarray.NDManager;
import io.micrometer.core.instrument.MeterRegistry;
import io.spinstream.model.checkpoint.CheckpointRetention;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.runtime.Backoff;
import io.spinstream.runtime.FaultKind;
import io.spinstream.runtime.FaultPoints;
import io.spinstream.runtime.PollingService;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.deadletter.DeadLetters;
import io.spinstream.runtime.deadletter.Decoded;
import io.spinstream.runtime.deadletter.RecordDecoder;
import io.spinstream.runtime.evaluation.EvaluationHistory;
import io.spinstream.runtime.kafka.GenerationPass;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.opponent.OpponentWatcher;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Topics;
import io.spinstream.schemas.TrainingPair;
import io.spinstream.trainer.round.Intake;
import io.spinstream.trainer.round.PartitionKey;
import io.spinstream.trainer.round.ProgressLog;
import io.spinstream.trainer.round.RoundEnd;
import io.spinstream.trainer.round.RoundPlan;
import io.spinstream.trainer.round.RoundSettings;
import io.spinstream.trainer.round.RoundTrainer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Trains the main player θ from the current opponent θt on the pairs of the round: hosts the pair join
 * (Kafka Streams), feeds the round's {@link RoundTrainer} from the pairs topic and announces its
 * candidates. The pairs topic is read without a consumer group: its offsets live in the checkpoints, so a
 * restart resumes the round's newest candidate at its offsets and no pair is lost or trained twice.
 */
public final class TrainerService extends PollingService {
    private static final Logger log = LoggerFactory.getLogger(TrainerService.class);


    /**
     * What the service is told beside the common context.
     *
     * @param round    how rounds train (optimiser, checkpoints, convergence, rejection policy)
     * @param end      when a round's pass is over
     * @param stateDir Kafka Streams state of the pair join
     */
    public record Settings(RoundSettings round, RoundEnd.Rule end, HeldOutSplit split, Path stateDir,
                           CheckpointRetention retention, ai.djl.Device device) {
        String runId() {
            return round.checkpointing().runId();
        }
    }

    private final SpinContext context;
    private final Settings settings;
    private final Topics topics;
    private final MeterRegistry registry;
    private final DeadLetters deadLetters;
    private final CheckpointStore store;
    private final Clock clock = Clock.systemUTC();
    private final TrainerMetrics metrics;
    private volatile RoundTrainer current; // the round in progress, for observers

    public TrainerService(SpinContext context, Settings settings, MeterRegistry registry) {
        super("trainer", Duration.ofSeconds(120));
        this.context = context;
        this.settings = settings;
        this.topics = context.topics();
        this.registry = registry;
        this.deadLetters = new DeadLetters(topics.deadLetters(), "trainer:" + context.instanceId(), clock);
        this.store = new CheckpointStore(settings.round().checkpointing().store(),
                temp -> context.faults().reach(FaultPoints.TRAINER_CANDIDATE_WRITTEN));
        this.metrics = new TrainerMetrics(registry, clock, () -> current);
    }

    /** The state of the round in progress (empty before the first opponent). */
    public Optional<RoundTrainer.State> roundState() {
        RoundTrainer r = current;
        return r == null ? Optional.empty() : Optional.of(r.state());
    }

    @Override
    protected void work() throws Exception {
        log.info("computing on {}", settings.device());
        try (PairJoinerHost joiner = new PairJoinerHost(context, settings.split(), settings.stateDir(), registry);
             NDManager manager = NDManager.newBaseManager(settings.device());
             OpponentWatcher watcher = new OpponentWatcher(context.kafka(), topics.opponent(), settings.runId()).start();
             KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(context.kafka().idempotentProducer());
             KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(context.kafka().groupLessConsumer());
             EvaluationHistory evaluations = new EvaluationHistory(context.kafka(), topics.evaluations());
             Admin admin = Admin.create(context.kafka().admin())) {
            consumer.assign(consumer.partitionsFor(topics.pairs().name(), Duration.ofSeconds(60)).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList());
            polling(consumer);
            watch("opponent follower", watcher::isAlive);
            watch("evaluations follower", evaluations::isAlive);
            Pairs pairs = new Pairs(consumer, producer, joiner, evaluations);
            String opponentId = "";
            Backoff refusals = Backoff.standard();
            while (running()) {
                joiner.check();
                Optional<OpponentPromotion> next = watcher.awaitOther(opponentId, 500);
                if (next.isEmpty()) {
                    continue;
                }
                RoundTrainer opened;
                try {
                    opened = open(next.get(), manager, admin, consumer, producer, evaluations);
                    refusals.reset();
                } catch (RuntimeException e) {
                    if (!FaultKind.isTransient(e)) {
                        throw e;
                    }
                    // The opponent's files (or the newest candidate's) may still be arriving: try again.
                    log.warn("cannot start the round on {}: {}; trying again in {}", next.get().getCheckpointId(),
                            e.getMessage(), refusals.peek());
                    ready(false);
                    refusals.pause();
                    continue;
                }
                opponentId = next.get().getCheckpointId();
                try (RoundTrainer round = opened) {
                    current = round;
                    ready(true);
                    pairs.feed(round, watcher);
                } catch (WakeupException e) {
                    break;
                }
            }
        }
    }

    private RoundTrainer open(OpponentPromotion opp, NDManager manager, Admin admin, KafkaConsumer<byte[], byte[]> pairs,
                              KafkaProducer<byte[], byte[]> producer, EvaluationHistory evaluations) {
        RoundPlan.OpponentRef ref = new RoundPlan.OpponentRef(opp.getCheckpointId(), opp.getRound(),
                CheckpointLocation.within(store.root()).resolve(opp.getUri()), opp.getSha256());
        RoundPlan plan = RoundPlan.of(store, ref, settings.round().includePreviousRound());
        RoundEnd.GenerationProgress progress = !settings.end().waitForGeneration() ? RoundEnd.GenerationProgress.NONE
                : () -> undelivered(admin, pairs, opp.getRound());
        return new RoundTrainer(plan, settings.round(), store, new RoundEnd(clock, settings.end().idleMs(), progress), manager,
                List.of(new FaultPointListener(context.faults()), new CandidateAnnouncer(producer, topics, clock), metrics,
                        new StoreRetention(store, settings.retention(), evaluations),
                        new ProgressLog(clock, settings.round().progressMs())));
    }

    /**
     * What keeps round {@code round}'s pass from being over, in the order the pairs flow: prompts its generators
     * have not answered, inputs the pair joiner has not read, pairs this trainer has not read. Each is asked only
     * once the one before is done, so that a pair cannot slip between the looks.
     */
    private List<String> undelivered(Admin admin, KafkaConsumer<byte[], byte[]> pairs, int round) throws Exception {
        List<TopicPartition> answering = GenerationPass.unfinished(admin, topics, round);
        if (!answering.isEmpty()) {
            return List.of("the generators have not answered " + answering);
        }
        List<TopicPartition> joining = GenerationPass.unjoined(admin, topics);
        if (!joining.isEmpty()) {
            return List.of("the pair joiner has not read " + joining);
        }
        // The consumer reads committed records only: its end offsets are the last stable ones.
        Map<TopicPartition, Long> ends = pairs.endOffsets(pairs.assignment(), Duration.ofSeconds(30));
        List<TopicPartition> reading = ends.entrySet().stream().filter(e -> pairs.position(e.getKey()) < e.getValue())
                .map(Map.Entry::getKey).toList();
        return reading.isEmpty() ? List.of() : List.of("this trainer has not read the pairs on " + reading);
    }

    /** Reads the pairs topic into a round: decoding, dead letters, rejections and rereading after a rollback. */
    private final class Pairs {
        private final KafkaConsumer<byte[], byte[]> consumer;
        private final KafkaProducer<byte[], byte[]> producer;
        private final PairJoinerHost joiner;
        private final EvaluationHistory evaluations;
        private final RecordDecoder<String, TrainingPair> decoder = new RecordDecoder<>(t -> topics.pairs(), deadLetters);

        Pairs(KafkaConsumer<byte[], byte[]> consumer, KafkaProducer<byte[], byte[]> producer, PairJoinerHost joiner,
              EvaluationHistory evaluations) {
            this.consumer = consumer;
            this.producer = producer;
            this.joiner = joiner;
            this.evaluations = evaluations;
        }

        /** Until the opponent changes or the service stops. */
        void feed(RoundTrainer round, OpponentWatcher watcher) {
            seek(round);
            Backoff outage = Backoff.standard();
            while (running() && watcher.current().map(p -> p.getCheckpointId().equals(round.opponentId())).orElse(true)) {
                joiner.check();
                try {
                    for (ConsumerRecord<byte[], byte[]> raw : consumer.poll(Duration.ofMillis(200))) {
                        accept(round, raw);
                    }
                    outage.reset();
                } catch (RuntimeException e) {
                    if (!FaultKind.isTransient(e)) {
                        throw e;
                    }
                    // The registry or the broker cannot be reached: read again from what the round has taken.
                    log.warn("transient fault reading pairs ({}); reading again in {}", e.getMessage(), outage.peek());
                    outage.pauseOrThrow();
                    seek(round);
                    continue;
                }
                if (round.rejections(evaluations.rejections(round.opponentId(), round.round()))) {
                    seek(round);
                    continue;
                }
                round.tick();
            }
        }

        private void accept(RoundTrainer round, ConsumerRecord<byte[], byte[]> raw) {
            PartitionKey at = new PartitionKey(raw.topic(), raw.partition());
            Decoded<String, TrainingPair> d = decoder.decode(List.of(raw));
            d.deadLetters().forEach(producer::send);
            if (d.records().isEmpty()) {
                d.deadLetters().forEach(x -> metrics.deadLetter());
                round.passed(at, raw.offset());
            } else if (round.offer(at, raw.offset(), d.records().get(0).value()) instanceof Intake.Invalid invalid) {
                producer.send(deadLetters.record(raw, invalid.reason()));
            }
        }

        private void seek(RoundTrainer round) {
            var positions = round.positions();
            for (TopicPartition tp : consumer.assignment()) {
                Long offset = positions.get(new PartitionKey(tp.topic(), tp.partition()));
                if (offset == null) {
                    consumer.seekToBeginning(List.of(tp));
                } else {
                    consumer.seek(tp, offset);
                }
            }
        }
    }
}
