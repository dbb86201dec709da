package io.spinstream.evaluator;

import io.spinstream.evaluator.gate.PromotionGate;
import ai.djl.ndarray.NDManager;
import io.spinstream.evaluator.suite.SuiteRunner;
import io.spinstream.model.Precision;
import io.spinstream.model.checkpoint.LoadedCheckpoint;
import io.spinstream.runtime.FaultKind;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.MetricTest;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.Verdict;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * One checkpoint event's judgement, apart from Kafka: screened ({@link CandidateScreen}), scored against the
 * opponent's baseline on the held-out prompts, judged by the {@link PromotionGate}, and promoted now or left to wait
 * for the other required suites ({@link PromotionCoordinator}). A transient fault (files not there yet, a topic
 * that cannot be read) is thrown: the event is judged again later.
 */
final class CandidateJudge {
    private static final Logger log = LoggerFactory.getLogger(CandidateJudge.class);

    /** What an event comes to. */
    sealed interface Judgement {
        /** Nothing to write: a repeated event, or one another suite set refused already. */
        record Nothing(String reason) implements Judgement {
        }

        /**
         * The evaluation to write, with the promotion when it promotes now or what waits for other suites.
         *
         * @param scored whether the candidate itself was judged (counted in the verdict metrics)
         */
        record Judged(Evaluation evaluation, boolean scored, Optional<OpponentPromotion> promotion,
                      Optional<PromotionCoordinator.Waiting> waits) implements Judgement {
        }
    }

    /** What the judge is told: the run, the suites, the gate and where checkpoints are. */
    record Settings(String runId, String suiteKey, PromotionGate gate, CheckpointLocation location, Precision precision,
                    String instanceId) {
    }

    private final Settings settings;
    private final CandidateScreen screen;
    private final PromotionCoordinator coordinator;
    private final OpponentBaseline baseline;
    private final EvaluatorMetrics metrics;
    private final Clock clock;

    CandidateJudge(Settings settings, PromotionCoordinator coordinator, OpponentBaseline baseline, EvaluatorMetrics metrics,
                   Clock clock) {
        this.settings = settings;
        this.screen = new CandidateScreen(settings.runId(), settings.suiteKey());
        this.coordinator = coordinator;
        this.baseline = baseline;
        this.metrics = metrics;
        this.clock = clock;
    }

    /**
     * @param current  the opponent in force (empty: none promoted)
     * @param history  every evaluation written so far, by every suite set
     * @param heldOut  the held-out prompts, read only when the candidate is scored
     */
    Judgement judge(CheckpointEvent event, Optional<OpponentPromotion> current, List<Evaluation> history,
                    Supplier<List<Prompt>> heldOut, NDManager manager) {
        return switch (screen.screen(event, current, history)) {
            case CandidateScreen.Outcome.Skip skip -> {
                log.info("{}: skipping the repeated event", skip.reason());
                metrics.duplicate();
                yield new Judgement.Nothing(skip.reason());
            }
            case CandidateScreen.Outcome.Settled settled -> {
                log.info("{}: not scored", settled.reason());
                yield new Judgement.Nothing(settled.reason());
            }
            case CandidateScreen.Outcome.Refuse r ->
                    written(evaluation(event, r.baselineId(), r.verdict(), List.of(r.reason())).build(), false);
            case CandidateScreen.Outcome.Score s -> scored(event, s.opponent(), history, heldOut, manager);
        };
    }

    private Judgement scored(CheckpointEvent event, OpponentPromotion opponent, List<Evaluation> history,
                             Supplier<List<Prompt>> heldOut, NDManager manager) {
        String opponentId = opponent.getCheckpointId();
        try {
            List<Prompt> prompts = heldOut.get();
            metrics.modelTime().record(() -> baseline.ensure(opponent, prompts, manager, settings.location(), settings.precision()));
        } catch (RuntimeException e) {
            if (FaultKind.isTransient(e)) {
                throw e; // its files are not there yet, or a topic cannot be read: not the candidate's fault
            }
            return written(evaluation(event, opponentId, Verdict.INVALID,
                    List.of("the opponent " + opponentId + " cannot be loaded: " + e.getMessage())).build(), false);
        }
        LoadedCheckpoint candidate;
        try {
            candidate = CandidateScreen.load(event, manager, settings.location(), settings.precision());
        } catch (RuntimeException e) {
            if (FaultKind.isTransient(e)) {
                throw e; // INVALID only for files that are there and wrong (checksum, format)
            }
            return written(evaluation(event, opponentId, Verdict.INVALID, List.of("candidate refused: " + e.getMessage()))
                    .setBaselineMetrics(new HashMap<>(baseline.metrics())).setHeldOutPrompts(baseline.prompts()).build(), true);
        }
        try (candidate) {
            Map<String, double[]> perPrompt = metrics.modelTime().record(
                    () -> baseline.score("candidate " + event.getCheckpointId(), candidate.model(), manager));
            PromotionGate.Decision decision = settings.gate().judge(perPrompt, baseline.perPrompt(), baseline.prompts());
            List<String> reasons = new ArrayList<>(decision.reasons());
            PromotionCoordinator.Pass pass = decision.promote() ? coordinator.passed(event.getCheckpointId(), history) : null;
            if (pass != null && pass.reason() != null) {
                reasons.add(pass.reason());
            }
            Map<String, MetricTest> tests = new HashMap<>();
            decision.tests().forEach((metric, t) -> tests.put(metric, t.toRecord()));
            Evaluation ev = evaluation(event, opponentId, decision.promote() ? Verdict.PROMOTE : Verdict.REJECT, reasons)
                    .setMetrics(new HashMap<>(SuiteRunner.means(perPrompt))).setBaselineMetrics(new HashMap<>(baseline.metrics()))
                    .setHeldOutPrompts(baseline.prompts()).setTests(tests).build();
            if (pass == null) {
                log.info("rejecting {}: {}", event.getCheckpointId(), reasons);
                return written(ev, true);
            }
            if (pass.promoteNow()) {
                log.info("promoting {} to opponent of round {}: {}", event.getCheckpointId(), opponent.getRound() + 1, reasons);
                return new Judgement.Judged(ev, true, Optional.of(promotion(event, opponent, ev)), Optional.empty());
            }
            return new Judgement.Judged(ev, true, Optional.empty(),
                    Optional.of(new PromotionCoordinator.Waiting(event, opponent, ev)));
        }
    }

    /** The promotion of a candidate that passed, to the round after its opponent's. */
    OpponentPromotion promotion(CheckpointEvent event, OpponentPromotion current, Evaluation ev) {
        return OpponentPromotion.newBuilder().setRunId(settings.runId()).setCheckpointId(event.getCheckpointId())
                .setRound(current.getRound() + 1).setUri(event.getUri()).setSha256(event.getSha256()).setEvaluation(ev)
                .setCreatedAt(clock.instant()).build();
    }

    private static Judgement written(Evaluation ev, boolean scored) {
        return new Judgement.Judged(ev, scored, Optional.empty(), Optional.empty());
    }

    /** An evaluation of the event against {@code baselineId}, without scores until they are set. */
    private Evaluation.Builder evaluation(CheckpointEvent event, String baselineId, Verdict verdict, List<String> reasons) {
        return Evaluation.newBuilder().setCheckpointId(event.getCheckpointId()).setBaselineId(baselineId)
                .setRound(event.getRound()).setSuite(settings.suiteKey()).setMetrics(new HashMap<>())
                .setBaselineMetrics(new HashMap<>()).setHeldOutPrompts(0).setVerdict(verdict).setReasons(reasons)
                .setEvaluator(settings.instanceId()).setCreatedAt(clock.instant());
    }
}
