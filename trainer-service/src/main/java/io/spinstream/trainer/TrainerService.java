package io.spinstream.trainer;

import ai.djl.ndarray.NDManager;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.NoGrad;
import io.spinstream.model.TokenBatch;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.checkpoint.LoadedCheckpoint;
import io.spinstream.model.objective.Objective;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.model.tokenizer.SpinTokenizer;
import io.spinstream.model.train.LearningRateSchedule;
import io.spinstream.model.train.Optimizer;
import io.spinstream.model.train.PreferenceBatch;
import io.spinstream.model.train.StepResult;
import io.spinstream.model.train.TrainStep;
import io.spinstream.runtime.PollingService;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.deadletter.DeadLetterDeserializationHandler;
import io.spinstream.runtime.deadletter.DeadLetters;
import io.spinstream.runtime.deadletter.Decoded;
import io.spinstream.runtime.deadletter.RecordDecoder;
import io.spinstream.runtime.opponent.Opponent;
import io.spinstream.runtime.opponent.OpponentWatcher;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.PartitionOffset;
import io.spinstream.schemas.Topics;
import io.spinstream.schemas.TrainingPair;
import io.spinstream.runtime.kafka.GenerationPass;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;

/**
 * Trains the main player θ from the current opponent θt on the pairs of the round. The pair join runs
 * beside it as Kafka Streams. The pairs topic is read without a consumer group: its offsets live in the
 * checkpoints. A candidate is written every N steps and at the end of the round's pass, atomically and
 * with the consumed offsets and optimiser state inside, and only then announced; on restart the newest
 * candidate of the round is restored and reading resumes at its offsets, so no pair is lost or trained
 * twice relative to it.
 */
public final class TrainerService extends PollingService {
    private static final Logger log = LoggerFactory.getLogger(TrainerService.class);

    /** What the service is told beside the common context. */
    public record Settings(String runId, Path store, Objective objective, String optimizer, double lr, int warmup,
                           double weightDecay, double maxGradNorm, int batchSize, int accumulation, int checkpointEvery,
                           long idleMs, double convergedShare, int convergedMinPairs, HeldOutSplit split,
                           PromptTemplate template, Path stateDir, long progressMs, RejectionPolicy rejections,
                           boolean includePreviousRound, boolean endWithGeneration) {
    }

    /**
     * What rejections of this round's candidates lead to: {@code continue} training; {@code rollback} θ to
     * the opponent with the learning rate times {@code lrFactor} after every {@code rollbackAfter}
     * rejections; {@code stop} as converged after {@code stopAfter}.
     */
    public record RejectionPolicy(String kind, int rollbackAfter, double lrFactor, int stopAfter) {
        public static final RejectionPolicy CONTINUE = new RejectionPolicy("continue", 3, 0.5, 5);
    }

    private final SpinContext context;
    private final Settings settings;
    private final Topics topics;
    private final MeterRegistry metrics;
    private final DeadLetters deadLetters;
    private final CheckpointStore store;
    private final AtomicInteger round = new AtomicInteger(-1);
    private final AtomicLong lossMilli = new AtomicLong();
    private final AtomicInteger converged = new AtomicInteger();
    private Admin admin; // set while work() runs
    private volatile boolean joinerFailed;
    private final AtomicLong lastCheckpointAt = new AtomicLong(System.currentTimeMillis() / 1000);
    private final Timer checkpointTime;

    public TrainerService(SpinContext context, Settings settings, MeterRegistry metrics) {
        super("trainer", Duration.ofSeconds(120));
        this.context = context;
        this.settings = settings;
        this.topics = context.topics();
        this.metrics = metrics;
        this.deadLetters = new DeadLetters(topics.deadLetters(), "trainer:" + context.instanceId(), Clock.systemUTC());
        this.store = new CheckpointStore(settings.store());
        metrics.gauge("spin.trainer.round", round);
        metrics.gauge("spin.trainer.loss", lossMilli, v -> v.get() / 1000.0);
        metrics.gauge("spin.trainer.converged", converged);
        this.checkpointTime = metrics.timer("spin.trainer.checkpoint.write");
        // Seconds since the epoch of the newest checkpoint (start time until the first): alerts on "none for too long".
        metrics.gauge("spin.trainer.last.checkpoint.timestamp.seconds", lastCheckpointAt);
    }

    private KafkaStreams startJoiner() {
        Properties props = new Properties();
        props.putAll(context.kafka().exactlyOnceStreams(topics.prefix() + "-pair-joiner", settings.stateDir(),
                topics.layout().replicationFactor()));
        props.putAll(DeadLetterDeserializationHandler.settings(topics.prefix(), context.registryUrl(),
                "pair-joiner:" + context.instanceId()));
        KafkaStreams streams = new KafkaStreams(PairJoiner.topology(topics, settings.split(), Clock.systemUTC()), props);
        new KafkaStreamsMetrics(streams).bindTo(metrics);
        // A prompt stream created while the joiner runs can reach a task before the thread's pattern
        // subscription knows it ("Topic ... is unknown to the topology"); a fresh thread resolves the pattern
        // again. Repeated failures within a minute end the joiner, and the trainer with it.
        Deque<Long> replaced = new ArrayDeque<>();
        streams.setUncaughtExceptionHandler(e -> {
            long now = System.nanoTime();
            replaced.removeIf(t -> now - t > 60_000_000_000L);
            if (replaced.size() >= 5) {
                log.error("pair joiner failed 5 times within a minute; stopping it: {}", e.toString(), e);
                return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
            }
            replaced.add(now);
            log.warn("pair joiner thread failed ({}); replacing it", e.toString());
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.REPLACE_THREAD;
        });
        streams.setStateListener((next, before) -> {
            if (next == KafkaStreams.State.ERROR) {
                joinerFailed = true;
            }
        });
        streams.start();
        return streams;
    }

    @Override
    protected void work() throws Exception {
        Map<String, Object> props = context.kafka().groupLessConsumer();
        try (KafkaStreams joiner = startJoiner();
             NDManager manager = NDManager.newBaseManager();
             OpponentWatcher watcher = new OpponentWatcher(context.kafka(), topics.opponent(), settings.runId()).start();
             KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(context.kafka().idempotentProducer());
             KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props);
             RejectionFollower rejections = new RejectionFollower(context.kafka(), topics.evaluations());
             Admin admin = Admin.create(context.kafka().admin())) {
            this.admin = admin;
            List<TopicPartition> partitions = consumer.partitionsFor(topics.pairs().name(), Duration.ofSeconds(60)).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(partitions);
            polling(consumer);
            String current = "";
            while (running()) {
                checkJoiner();
                Optional<OpponentPromotion> next = watcher.awaitOther(current, 500);
                if (next.isEmpty()) {
                    continue;
                }
                current = next.get().getCheckpointId();
                try (Round r = openRound(next.get(), manager, partitions, producer)) {
                    ready(true);
                    r.train(consumer, watcher, producer, rejections, manager);
                } catch (WakeupException e) {
                    break;
                }
            }
        }
    }

    /** Without the pair joiner no pair would ever come: fail the service (and its readiness) instead of waiting. */
    private void checkJoiner() {
        if (joinerFailed) {
            throw new IllegalStateException("the pair joiner (Kafka Streams) stopped in state ERROR; see the log above");
        }
    }

    /** Resumes the round's newest candidate, or starts θ from the opponent. */
    private Round openRound(OpponentPromotion opp, NDManager manager, List<TopicPartition> partitions,
                            KafkaProducer<byte[], byte[]> producer) {
        round.set(opp.getRound());
        Optional<String> resume = store.list().stream()
                .flatMap(id -> store.metadata(id).map(m -> Map.entry(id, m)).stream())
                .filter(e -> opp.getCheckpointId().equals(e.getValue().parentId()))
                .max(Comparator.comparingLong(e -> e.getValue().step()))
                .map(Map.Entry::getKey);
        LoadedCheckpoint start = resume.isPresent() ? store.load(resume.get(), manager)
                : CheckpointStore.load(Opponent.pathOf(opp.getUri()), manager);
        if (resume.isEmpty() && !start.metadata().sha256().equalsIgnoreCase(opp.getSha256())) {
            start.close();
            throw new IllegalStateException("opponent " + opp.getCheckpointId() + " does not match its promotion's sha256");
        }
        Round r = new Round(opp, start, manager);
        Path opponentDir = Opponent.pathOf(opp.getUri());
        // Where the round's pairs begin: where the opponent's own training ended.
        Map<String, Long> roundStart = resume.isEmpty() ? start.metadata().offsets()
                : new CheckpointStore(opponentDir.getParent()).metadata(opponentDir.getFileName().toString())
                .map(CheckpointMetadata::offsets).orElse(Map.of());
        if (settings.includePreviousRound()) {
            // θt, frozen, re-scores round t−1's pairs; its parent is the opponent that wrote them.
            r.reference = CheckpointStore.load(opponentDir, manager);
            r.previousOpponentId = r.reference.metadata().parentId();
            if (r.previousOpponentId != null) {
                // Round t−1's pairs start where the previous opponent's own training ended.
                roundStart = store.metadata(r.previousOpponentId).map(CheckpointMetadata::offsets).orElse(Map.of());
            }
        }
        Map<TopicPartition, Long> offsets = partitionOffsets(resume.isEmpty() ? roundStart : start.metadata().offsets(), partitions);
        r.positions.putAll(offsets);
        r.roundStart.putAll(partitionOffsets(roundStart, partitions));
        if (resume.isPresent()) {
            try (NDManager scope = manager.newSubManager()) {
                r.step.restore(start.trainingState(scope));
            }
            r.pairsTrained = start.metadata().metrics().getOrDefault("pairs_trained", 0.0).longValue();
            r.stepBase = start.metadata().step() - r.step.steps();
            r.lastCheckpointStep = start.metadata().step();
            double lr = start.metadata().metrics().getOrDefault("lr", settings.lr());
            if (lr != settings.lr()) {
                // resumed after a rollback: keep its lower learning rate, and its statistics
                r.lr = lr;
                r.step.close();
                r.step = r.newStep(start.model(), lr);
                try (NDManager scope = manager.newSubManager()) {
                    r.step.restore(start.trainingState(scope));
                }
            }
            log.info("resuming round {} from {} (step {}, {} pairs trained, offsets {})", opp.getRound(), resume.get(),
                    r.totalSteps(), r.pairsTrained, offsets);
            // Its announcement may have been lost in the crash; the evaluator skips a repeated one.
            announce(producer, start.metadata(), start.directory(), false);
        } else {
            log.info("round {}: training from opponent {} (offsets {})", opp.getRound(), opp.getCheckpointId(), offsets);
        }
        return r;
    }

    /** Offsets as checkpoints keep them ("topic-partition" → offset), for the partitions of {@code partitions}. */
    private static Map<TopicPartition, Long> partitionOffsets(Map<String, Long> offsets, List<TopicPartition> partitions) {
        Map<TopicPartition, Long> out = new HashMap<>();
        offsets.forEach((key, offset) -> {
            int dash = key.lastIndexOf('-');
            TopicPartition tp = new TopicPartition(key.substring(0, dash), Integer.parseInt(key.substring(dash + 1)));
            if (partitions.contains(tp)) {
                out.put(tp, offset);
            }
        });
        return out;
    }

    private void announce(KafkaProducer<byte[], byte[]> producer, CheckpointMetadata m, Path dir, boolean endOfRound) {
        List<PartitionOffset> offsets = new ArrayList<>();
        m.offsets().forEach((key, offset) -> {
            int dash = key.lastIndexOf('-');
            offsets.add(PartitionOffset.newBuilder().setTopic(key.substring(0, dash))
                    .setPartition(Integer.parseInt(key.substring(dash + 1))).setOffset(offset).build());
        });
        CheckpointEvent event = CheckpointEvent.newBuilder().setCheckpointId(m.id()).setParentOpponentId(m.parentId())
                .setRound(m.round()).setStep(m.step()).setUri(dir.toUri().toString()).setSha256(m.sha256())
                .setTrainMetrics(new HashMap<>(m.metrics())).setConsumedOffsets(offsets).setEndOfRound(endOfRound)
                .setCreatedAt(Clock.systemUTC().instant()).build();
        try {
            producer.send(topics.checkpoints().rawRecord(m.id(), event)).get();
        } catch (Exception e) {
            throw new IllegalStateException("cannot announce checkpoint " + m.id() + ": " + e, e);
        }
    }

    /** One pair ready to train: its source record and its token sequences. */
    private record Ready(ConsumerRecord<byte[], byte[]> raw, TrainingPair pair, TokenBatch.Example chosen,
                         TokenBatch.Example rejected, boolean previousRound) {
    }

    /** The state of training in one round. */
    private final class Round implements AutoCloseable {
        final OpponentPromotion opponent;
        final LoadedCheckpoint start;
        final NDManager manager;
        LoadedCheckpoint reference; // θt frozen, when round t−1's pairs are trained too
        String previousOpponentId;
        final SpinTokenizer tokenizer;
        TrainStep step;
        double lr = settings.lr();
        long stepBase; // steps of the TrainSteps before the last rollback: ids and counts go on from them
        int rejectionsSeen;
        int rejectionsHandled;
        final Map<TopicPartition, Long> positions = new HashMap<>();
        final Map<TopicPartition, Long> roundStart = new HashMap<>(); // where this round's pairs begin
        final List<Ready> buffer = new ArrayList<>();
        final RecordDecoder<String, TrainingPair> decoder = new RecordDecoder<>(t -> topics.pairs(), deadLetters);
        long pairsTrained;
        long pairsSeen;
        long identicalSeen;
        long lastCheckpointStep;
        long tokens;
        StepResult last;

        Round(OpponentPromotion opponent, LoadedCheckpoint start, NDManager manager) {
            this.opponent = opponent;
            this.manager = manager;
            this.start = start;
            LlamaModel model = start.model();
            this.tokenizer = SpinTokenizer.load(start.tokenizerJson(), settings.template(), model.config().eosTokenId());
            this.step = newStep(model, lr);
        }

        private TrainStep newStep(LlamaModel model, double learningRate) {
            // No decay: a round's length is not known in advance.
            return new TrainStep(model, settings.objective(), Optimizer.parse(settings.optimizer(), settings.weightDecay()),
                    new LearningRateSchedule(learningRate, settings.warmup(), 0, 1.0), settings.maxGradNorm());
        }

        long totalSteps() {
            return stepBase + step.steps();
        }

        /**
         * Logs every new rejection of this round's candidates and applies the policy; true when θ was rolled
         * back, after which the round's pairs are read again from its start (with the lower learning rate).
         */
        boolean applyRejectionPolicy(int rejected, NDManager manager) {
            if (rejected <= rejectionsSeen) {
                return false;
            }
            RejectionPolicy policy = settings.rejections();
            metrics.counter("spin.trainer.rejections").increment(rejected - rejectionsSeen);
            rejectionsSeen = rejected;
            log.info("{} candidate(s) of round {} rejected so far (policy {})", rejected, opponent.getRound(), policy.kind());
            if (policy.kind().equals("stop") && rejected >= policy.stopAfter() && converged.get() == 0) {
                converged.set(1);
                log.warn("round {}: {} rejections, the limit of the stop policy; the run stops as converged",
                        opponent.getRound(), rejected);
            } else if (policy.kind().equals("rollback") && rejected - rejectionsHandled >= policy.rollbackAfter()) {
                rejectionsHandled = rejected;
                lr *= policy.lrFactor();
                try (NoGrad ignored = NoGrad.enter(); NDManager scratch = manager.newSubManager();
                     LoadedCheckpoint fresh = CheckpointStore.load(Opponent.pathOf(opponent.getUri()), scratch)) {
                    fresh.model().parameters().forEach((name, p) -> start.model().parameters().get(name)
                            .set(p.toByteBuffer()));
                }
                long steps = totalSteps();
                stepBase = steps;
                step.close();
                step = newStep(start.model(), lr);
                metrics.counter("spin.trainer.rollbacks").increment();
                log.warn("round {}: {} rejections; θ rolled back to opponent {} at step {}, learning rate now {};"
                        + " the round's pairs are read again", opponent.getRound(), rejected, opponent.getCheckpointId(), steps, lr);
                buffer.clear();
                positions.clear();
                positions.putAll(roundStart);
                pairsSeen = 0;
                identicalSeen = 0;
                return true;
            }
            return false;
        }

        private long lastGenerationCheck;
        private boolean generationDone;

        /** Whether the round's generators have answered every prompt (checked at most once a second). */
        boolean generationDone() {
            if (!settings.endWithGeneration() || generationDone) {
                return true;
            }
            if (System.nanoTime() - lastGenerationCheck < 1_000_000_000L) {
                return false;
            }
            lastGenerationCheck = System.nanoTime();
            try {
                List<TopicPartition> left = GenerationPass.unfinished(admin, topics, opponent.getRound());
                generationDone = left.isEmpty();
                if (!generationDone) {
                    log.info("round {}: no new pair for {} ms, but the generators have not finished {}; the round goes on",
                            opponent.getRound(), settings.idleMs(), left);
                }
            } catch (Exception e) {
                log.warn("round {}: cannot tell whether generation is done ({}); trying again", opponent.getRound(), e.toString());
            }
            return generationDone;
        }

        void seek(KafkaConsumer<byte[], byte[]> consumer) {
            for (TopicPartition tp : consumer.assignment()) {
                Long offset = positions.get(tp);
                if (offset == null) {
                    consumer.seekToBeginning(List.of(tp));
                } else {
                    consumer.seek(tp, offset);
                }
            }
        }

        void train(KafkaConsumer<byte[], byte[]> consumer, OpponentWatcher watcher, KafkaProducer<byte[], byte[]> producer,
                   RejectionFollower rejections, NDManager manager) {
            seek(consumer);
            long lastPair = System.nanoTime();
            long lastProgress = System.nanoTime();
            long trainedSinceProgress = 0;
            boolean announcedConverged = false;
            while (running() && watcher.current().map(p -> p.getCheckpointId().equals(opponent.getCheckpointId())).orElse(true)) {
                checkJoiner();
                var polled = consumer.poll(Duration.ofMillis(200));
                for (ConsumerRecord<byte[], byte[]> raw : polled) {
                    positions.put(new TopicPartition(raw.topic(), raw.partition()), raw.offset() + 1);
                    if (accept(raw, producer)) {
                        lastPair = System.nanoTime();
                    }
                }
                if (applyRejectionPolicy(rejections.rejections(opponent.getCheckpointId()), manager)) {
                    seek(consumer);
                    lastPair = System.nanoTime();
                    continue;
                }
                if (converged.get() == 0 && pairsSeen >= settings.convergedMinPairs()
                        && (double) identicalSeen / pairsSeen >= settings.convergedShare()) {
                    converged.set(1);
                    log.warn("round {} converged: {} of {} opponent answers equal the human answer (>= {}); nothing left"
                            + " to learn, training stops", opponent.getRound(), identicalSeen, pairsSeen, settings.convergedShare());
                }
                if (converged.get() == 1) {
                    if (!announcedConverged) {
                        announcedConverged = true;
                        buffer.clear();
                    }
                    continue;
                }
                int stepPairs = settings.batchSize() * settings.accumulation();
                while (buffer.size() >= stepPairs) {
                    trainedSinceProgress += trainStep(stepPairs);
                    if (totalSteps() - lastCheckpointStep >= settings.checkpointEvery()) {
                        checkpoint(producer, false);
                    }
                }
                boolean idle = (System.nanoTime() - lastPair) / 1_000_000 >= settings.idleMs();
                if (idle && (!buffer.isEmpty() || totalSteps() > lastCheckpointStep) && generationDone()) {
                    if (!buffer.isEmpty()) {
                        trainedSinceProgress += trainStep(buffer.size());
                    }
                    checkpoint(producer, true);
                }
                if ((System.nanoTime() - lastProgress) / 1_000_000 >= settings.progressMs() && last != null) {
                    double seconds = (System.nanoTime() - lastProgress) / 1e9;
                    log.info(String.format("round %d step %d: loss %.4f, margin %.3f, reward accuracy %.2f, %.0f tokens/s,"
                                    + " %d pairs trained (%.1f/s), %d buffered, %d skipped steps", opponent.getRound(),
                            totalSteps(), last.loss(), last.margin(), last.rewardAccuracy(), tokens / seconds, pairsTrained,
                            trainedSinceProgress / seconds, buffer.size(), step.skippedSteps()));
                    lastProgress = System.nanoTime();
                    trainedSinceProgress = 0;
                    tokens = 0;
                }
            }
        }

        /** Decodes, filters and tokenizes one pair; true when it was buffered for training. */
        boolean accept(ConsumerRecord<byte[], byte[]> raw, KafkaProducer<byte[], byte[]> producer) {
            Decoded<String, TrainingPair> d = decoder.decode(List.of(raw));
            d.deadLetters().forEach(producer::send);
            if (d.records().isEmpty()) {
                metrics.counter("spin.trainer.dead.letters").increment(d.deadLetters().size());
                return false;
            }
            TrainingPair pair = d.records().get(0).value();
            boolean current = pair.getRound() == opponent.getRound() && pair.getOpponentId().equals(opponent.getCheckpointId());
            boolean previous = previousOpponentId != null && pair.getRound() == opponent.getRound() - 1
                    && pair.getOpponentId().equals(previousOpponentId);
            if (!current && !previous) {
                metrics.counter("spin.trainer.pairs.stale").increment();
                return false;
            }
            pairsSeen++;
            if (pair.getIdentical()) {
                identicalSeen++;
            }
            TokenBatch.Example chosen;
            TokenBatch.Example rejected;
            String problem = null;
            try {
                chosen = tokenizer.example(pair.getPrompt(), pair.getHuman());
                rejected = tokenizer.example(pair.getPrompt(), pair.getSynthetic());
                int context = start.model().config().maxPositions();
                if (chosen.length() > context || rejected.length() > context) {
                    problem = "pair of " + Math.max(chosen.length(), rejected.length()) + " tokens exceeds the model's context of "
                            + context + " positions";
                }
            } catch (RuntimeException e) {
                chosen = null;
                rejected = null;
                problem = DeadLetters.reason("cannot tokenize", e);
            }
            if (problem != null) {
                producer.send(deadLetters.record(raw, problem));
                metrics.counter("spin.trainer.dead.letters").increment();
                return false;
            }
            buffer.add(new Ready(raw, pair, chosen, rejected, !current));
            return true;
        }

        /**
         * Round t−1's pairs carry the log-probs of the opponent that wrote them; SPIN's reference is the
         * current opponent θt, so they are scored again under it.
         */
        void rescorePrevious(List<Ready> chunk, double[] refChosen, double[] refRejected) {
            List<Integer> previous = IntStream.range(0, chunk.size()).filter(i -> chunk.get(i).previousRound()).boxed().toList();
            if (previous.isEmpty()) {
                return;
            }
            List<TokenBatch.Example> examples = new ArrayList<>();
            previous.forEach(i -> examples.add(chunk.get(i).chosen()));
            previous.forEach(i -> examples.add(chunk.get(i).rejected()));
            LlamaModel ref = reference.model();
            double[] lp = io.spinstream.model.LogProbs.sums(ref, manager, TokenBatch.of(examples, ref.config().padTokenId()));
            for (int j = 0; j < previous.size(); j++) {
                refChosen[previous.get(j)] = lp[j];
                refRejected[previous.get(j)] = lp[previous.size() + j];
            }
            metrics.counter("spin.trainer.pairs.rescored").increment(previous.size());
        }

        /** Trains the first {@code n} buffered pairs in one optimiser step; returns n. */
        int trainStep(int n) {
            List<Ready> take = new ArrayList<>(buffer.subList(0, n));
            buffer.subList(0, n).clear();
            List<PreferenceBatch> micro = new ArrayList<>();
            for (int from = 0; from < take.size(); from += settings.batchSize()) {
                List<Ready> chunk = take.subList(from, Math.min(take.size(), from + settings.batchSize()));
                double[] refChosen = chunk.stream().mapToDouble(r -> r.pair().getOpponentLogpHuman()).toArray();
                double[] refRejected = chunk.stream().mapToDouble(r -> r.pair().getOpponentLogpSynthetic()).toArray();
                rescorePrevious(chunk, refChosen, refRejected);
                micro.add(new PreferenceBatch(chunk.stream().map(Ready::chosen).toList(), chunk.stream().map(Ready::rejected).toList(),
                        refChosen, refRejected));
            }
            last = step.step(micro);
            pairsTrained += n;
            tokens += last.tokens();
            metrics.counter("spin.trainer.pairs.trained").increment(n);
            metrics.counter("spin.trainer.steps", "skipped", Boolean.toString(last.skipped())).increment();
            if (!last.skipped()) {
                lossMilli.set(Math.round(last.loss() * 1000));
            }
            return n;
        }

        void checkpoint(KafkaProducer<byte[], byte[]> producer, boolean endOfRound) {
            // Offsets: the first pair still buffered, else everything read so far; what lies before is in the weights.
            Map<String, Long> offsets = new HashMap<>();
            positions.forEach((tp, pos) -> offsets.put(tp.topic() + "-" + tp.partition(), pos));
            for (Ready r : buffer) {
                offsets.merge(r.raw().topic() + "-" + r.raw().partition(), r.raw().offset(), Math::min);
            }
            String id = settings.runId() + "-r" + opponent.getRound() + "-s" + totalSteps();
            if (store.list().contains(id)) {
                lastCheckpointStep = totalSteps();
                return;
            }
            Map<String, Double> m = new HashMap<>();
            m.put("pairs_trained", (double) pairsTrained);
            m.put("lr", lr);
            m.put("skipped_steps", (double) step.skippedSteps());
            m.put("identical_share", pairsSeen == 0 ? 0.0 : (double) identicalSeen / pairsSeen);
            if (last != null && !last.skipped()) {
                m.put("loss", last.loss());
                m.put("margin", last.margin());
                m.put("reward_accuracy", last.rewardAccuracy());
            }
            long t0 = System.nanoTime();
            CheckpointMetadata saved;
            try (NDManager scope = start.model().manager().newSubManager()) {
                saved = store.save(start.model(), start.tokenizerJson(),
                        CheckpointMetadata.of(id, opponent.getCheckpointId(), opponent.getRound(), totalSteps(), m, offsets),
                        step.state(scope));
            }
            checkpointTime.record(Duration.ofNanos(System.nanoTime() - t0));
            lastCheckpointAt.set(System.currentTimeMillis() / 1000);
            announce(producer, saved, store.directoryOf(id), endOfRound);
            lastCheckpointStep = totalSteps();
            log.info("checkpoint {} written in {} ms ({} pairs trained{})", id, (System.nanoTime() - t0) / 1_000_000,
                    pairsTrained, endOfRound ? ", end of the round's pass" : "");
        }

        @Override
        public void close() {
            tokenizer.close();
            step.close();
            start.close();
            if (reference != null) {
                reference.close();
            }
        }
    }
}
