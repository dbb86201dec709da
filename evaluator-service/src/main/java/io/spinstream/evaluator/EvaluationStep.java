package io.spinstream.evaluator;

import ai.djl.ndarray.NDManager;
import io.spinstream.runtime.deadletter.Decoded;
import io.spinstream.runtime.deadletter.RecordDecoder;
import io.spinstream.runtime.evaluation.EvaluationHistory;
import io.spinstream.runtime.kafka.ExactlyOnceLoop;
import io.spinstream.runtime.opponent.OpponentWatcher;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.Topics;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The evaluator's step on the exactly-once loop: each checkpoint event's judgement ({@link CandidateJudge}) becomes its
 * evaluation and, when it promotes now, the promotion, committed with the event's offset; between events, candidates
 * that waited for other suites are promoted once those have passed.
 */
final class EvaluationStep implements ExactlyOnceLoop.Step {
    private static final Logger log = LoggerFactory.getLogger(EvaluationStep.class);
    private static final Duration SYNC_TIMEOUT = Duration.ofSeconds(30);

    private final Topics topics;
    private final String runId;
    private final CandidateJudge judge;
    private final PromotionCoordinator coordinator;
    private final RecordDecoder<String, CheckpointEvent> decoder;
    private final EvaluationHistory history;
    private final OpponentWatcher watcher;
    private final Supplier<List<Prompt>> heldOut;
    private final NDManager manager;
    private final EvaluatorMetrics metrics;
    private final Runnable waitingFaultPoint;
    private final Clock clock;
    private long lastWaitingCheck;

    EvaluationStep(Topics topics, String runId, CandidateJudge judge, PromotionCoordinator coordinator,
                   RecordDecoder<String, CheckpointEvent> decoder, EvaluationHistory history, OpponentWatcher watcher,
                   Supplier<List<Prompt>> heldOut, NDManager manager, EvaluatorMetrics metrics, Runnable waitingFaultPoint,
                   Clock clock) {
        this.topics = topics;
        this.runId = runId;
        this.judge = judge;
        this.coordinator = coordinator;
        this.decoder = decoder;
        this.history = history;
        this.watcher = watcher;
        this.heldOut = heldOut;
        this.manager = manager;
        this.metrics = metrics;
        this.waitingFaultPoint = waitingFaultPoint;
        this.clock = clock;
    }

    @Override
    public ExactlyOnceLoop.Output transform(List<ConsumerRecord<byte[], byte[]>> batch, ExactlyOnceLoop.Session session)
            throws InterruptedException {
        Decoded<String, CheckpointEvent> decoded = decoder.decode(batch);
        List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>(decoded.deadLetters());
        List<CandidateJudge.Judgement.Judged> judged = new ArrayList<>();
        for (Decoded.Read<String, CheckpointEvent> read : decoded.records()) {
            sync(session, history, watcher);
            Optional<OpponentPromotion> current = watcher.current();
            if (current.isEmpty()) {
                current = watcher.awaitOther("", 30_000);
            }
            if (judge.judge(read.value(), current, history.all(), heldOut, manager) instanceof CandidateJudge.Judgement.Judged j) {
                out.add(topics.evaluations().rawRecord(j.evaluation().getCheckpointId(), j.evaluation()));
                j.promotion().ifPresent(p -> out.add(topics.opponent().rawRecord(runId, p)));
                judged.add(j);
            }
        }
        return new ExactlyOnceLoop.Output(out, () -> judged.forEach(this::committed));
    }

    /** Every 2 s while candidates wait: promotes those whose other suites have passed since. */
    @Override
    public void polled(ExactlyOnceLoop.Session session) throws InterruptedException {
        if (coordinator.waitingCount() == 0 || clock.millis() - lastWaitingCheck <= 2000) {
            return;
        }
        lastWaitingCheck = clock.millis();
        sync(session, history, watcher);
        String opponentId = watcher.current().map(OpponentPromotion::getCheckpointId).orElse(null);
        for (PromotionCoordinator.Waiting w : coordinator.due(history.all(), opponentId)) {
            OpponentPromotion p = judge.promotion(w.event(), w.opponent(), w.evaluation());
            if (session.commit(List.of(topics.opponent().rawRecord(runId, p)))) {
                coordinator.promoted(w.event().getCheckpointId());
                log.info("promoting {} to opponent of round {}: every required suite passed", w.event().getCheckpointId(),
                        w.opponent().getRound() + 1);
            }
        }
    }

    /** A judgement committed: counted, and a candidate that waits for other suites kept (found again after a restart). */
    private void committed(CandidateJudge.Judgement.Judged judged) {
        if (judged.scored()) {
            metrics.evaluated(judged.evaluation());
        }
        judged.waits().ifPresent(coordinator::await);
        if (coordinator.waitingCount() > 0) {
            waitingFaultPoint.run();
        }
    }

    /**
     * Reads the evaluations and the promotions committed so far, this instance's own last transaction included: a
     * decision never misses an evaluation of another suite or a promotion just written (two candidates of one
     * opponent give one promotion).
     */
    static void sync(ExactlyOnceLoop.Session session, EvaluationHistory history, OpponentWatcher watcher)
            throws InterruptedException {
        Map<TopicPartition, Long> written = session.written();
        history.syncWith(session.consumer(), SYNC_TIMEOUT, written);
        watcher.syncWith(session.consumer(), SYNC_TIMEOUT, written);
    }
}
