package io.spinstream.trainer.round;

import ai.djl.ndarray.NDManager;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.NoGrad;
import io.spinstream.model.lora.LoraAdapter;
import io.spinstream.model.lora.LoraConfig;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.checkpoint.LoadedCheckpoint;
import io.spinstream.model.tokenizer.SpinTokenizer;
import io.spinstream.model.train.StepResult;
import io.spinstream.model.train.TrainStep;
import io.spinstream.schemas.TrainingPair;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One round of training θ from the opponent θt, fed pair by pair by whatever reads the pairs (the trainer
 * service from Kafka, the ablation from memory) and driven by {@link #tick()}. It owns the round's
 * state — training, ended (the pass's candidate is out; new pairs resume training) or converged (nothing
 * more is trained) — the optimiser, the buffered pairs and the read positions, and tells its listeners
 * what happens. Candidates carry the positions of the first pair not yet in the weights, so resuming from
 * one loses no pair and trains none twice.
 */
public final class RoundTrainer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RoundTrainer.class);

    public enum State { TRAINING, ENDED, CONVERGED }

    private final RoundPlan plan;
    private final RoundSettings settings;
    private final CandidateWriter writer;
    private final RoundEnd end;
    private final List<RoundListener> listeners;
    private final LoadedCheckpoint theta;
    private final LoadedCheckpoint reference; // θt frozen, when round t−1's pairs are trained too
    private final SpinTokenizer tokenizer;
    private final PairIntake intake;
    private final StepAssembler assembler;
    private final Map<PartitionKey, Long> positions = new HashMap<>();
    private final List<Intake.Accepted> buffer = new ArrayList<>();
    private TrainStep step;
    private double lr;
    private long stepBase; // steps of the optimisers before the last rollback: ids and counts go on from them
    private int rejectionsSeen;
    private int rejectionsHandled;
    private long pairsTrained;
    private long pairsSeen;
    private long identicalSeen;
    private boolean toldUnlabelled;
    private long lastCheckpointStep;
    private volatile State state = State.TRAINING; // read by other threads (readiness, the demo)
    private StepResult lastResult;
    private String lastEndDetail = "";

    public RoundTrainer(RoundPlan plan, RoundSettings settings, CheckpointStore store, RoundEnd end, NDManager manager,
                        List<RoundListener> listeners) {
        this.plan = plan;
        this.settings = settings;
        this.writer = new CandidateWriter(store, settings.checkpointing().runId());
        this.end = end;
        this.listeners = List.copyOf(listeners);
        this.theta = plan.openTheta(store, manager, settings.training().basePrecision());
        adapt(theta.model(), 0);
        this.reference = settings.includePreviousRound() ? CheckpointStore.load(plan.opponent().directory(), manager) : null;
        this.tokenizer = SpinTokenizer.load(theta.tokenizerJson(), settings.template(), theta.model().config().eosTokenId());
        this.intake = new PairIntake(plan.opponent().id(), plan.opponent().round(), plan.previousOpponentId(), tokenizer,
                theta.model().config().maxPositions(), theta.model().config().vocabSize(), settings.training().groups() != null);
        this.assembler = new StepAssembler(settings.training().batchSize(), reference == null ? null : reference.model(), manager);
        this.positions.putAll(plan.readFrom());
        Map<String, Double> m = theta.metadata().metrics();
        this.lr = plan.resume().isPresent() ? m.getOrDefault("lr", settings.training().lr()) : settings.training().lr();
        this.step = settings.training().newStep(theta.model(), lr);
        if (plan.resume().isPresent()) {
            try (NDManager scope = manager.newSubManager()) {
                step.restore(theta.trainingState(scope));
            }
            pairsTrained = m.getOrDefault("pairs_trained", 0.0).longValue();
            pairsSeen = m.getOrDefault("pairs_seen", 0.0).longValue();
            identicalSeen = m.getOrDefault("identical_seen", 0.0).longValue();
            rejectionsSeen = m.getOrDefault("rejections_seen", 0.0).intValue();
            rejectionsHandled = m.getOrDefault("rejections_handled", 0.0).intValue();
            stepBase = theta.metadata().step() - step.steps();
            lastCheckpointStep = theta.metadata().step();
            log.info("resuming round {} from {} (step {}, {} pairs trained, offsets {})", round(), theta.metadata().id(),
                    totalSteps(), pairsTrained, PartitionKey.encode(positions));
            RoundListener.Candidate resumed = new RoundListener.Candidate(theta.metadata(), theta.directory(), false, Duration.ZERO);
            this.listeners.forEach(l -> l.onResumed(this, resumed));
        } else {
            log.info("round {}: training from opponent {} (offsets {})", round(), plan.opponent().id(), PartitionKey.encode(positions));
        }
    }

    /**
     * Under LoRA, θ is an adapter over the frozen opponent: a fresh one (B = 0, so θ starts equal to θt)
     * unless a resumed candidate brought its own. A LoRA candidate is not resumed under full fine-tuning
     * (its optimiser state is the adapter's).
     */
    private void adapt(LlamaModel model, int rollbacks) {
        LoraConfig lora = settings.training().lora();
        if (lora != null && model.adapter() == null) {
            long seed = java.util.Objects.hash(settings.checkpointing().runId(), plan.opponent().round(), rollbacks);
            model.attach(LoraAdapter.init(model.config(), lora, model.manager(), seed));
            log.info("round {}: training a LoRA adapter of rank {} over {} ({} of {} parameters trained)", round(), lora.rank(),
                    plan.opponent().id(), model.adapter().parameterCount(), model.parameterCount());
        } else if (lora == null && model.adapter() != null) {
            throw new IllegalStateException("candidate " + theta.metadata().id() + " is a LoRA adapter but "
                    + "spin.trainer.lora.rank is 0: resume with the rank it was trained with, or start the round again");
        }
    }

    public State state() {
        return state;
    }

    public String opponentId() {
        return plan.opponent().id();
    }

    public int round() {
        return plan.opponent().round();
    }

    public long totalSteps() {
        return stepBase + step.steps();
    }

    public long pairsTrained() {
        return pairsTrained;
    }

    public int buffered() {
        return buffer.size();
    }

    public long skippedSteps() {
        return step.skippedSteps();
    }

    public double learningRate() {
        return lr;
    }

    /** Where reading must go on from: after a rollback, the round's start again. */
    public Map<PartitionKey, Long> positions() {
        return Map.copyOf(positions);
    }

    /** One pair read at {@code offset}: sorted, and buffered for training when it is the round's. */
    public Intake offer(PartitionKey partition, long offset, TrainingPair pair) {
        positions.put(partition, offset + 1);
        Intake result = intake.accept(partition, offset, pair);
        if (result instanceof Intake.Unlabelled u && !toldUnlabelled) {
            toldUnlabelled = true; // once a round: a stream may hold many
            log.warn("round {}: prompt {} has no human answer, and {} needs one: such prompts are skipped (counted in"
                    + " spin.trainer.pairs.unlabelled); raft and rrhf train on them from rewards", round(), u.promptId(),
                    settings.training().objectiveName());
        }
        if (result instanceof Intake.Accepted a && state != State.CONVERGED) {
            pairsSeen++;
            identicalSeen += pair.getIdentical() ? 1 : 0;
            buffer.add(a);
            end.pairArrived();
            if (state == State.ENDED) {
                transition(State.TRAINING, "new pairs after the end of the pass");
            }
        }
        listeners.forEach(l -> l.onIntake(result));
        return result;
    }

    /** A record at {@code offset} that is not a pair (it went to the dead letters): read past it. */
    public void passed(PartitionKey partition, long offset) {
        positions.put(partition, offset + 1);
    }

    /**
     * {@code rejected} distinct candidates of this round have been rejected so far; the policy acts on
     * the new ones. True when θ was rolled back: reading must start again at {@link #positions()}.
     */
    public boolean rejections(int rejected) {
        if (rejected <= rejectionsSeen) {
            return false;
        }
        int fresh = rejected - rejectionsSeen;
        rejectionsSeen = rejected;
        listeners.forEach(l -> l.onRejections(this, fresh));
        log.info("{} candidate(s) of round {} rejected so far (policy {})", rejected, round(), settings.policy().kind());
        switch (settings.policy().decide(rejected, rejectionsHandled)) {
            case STOP -> {
                if (state != State.CONVERGED) {
                    transition(State.CONVERGED, rejected + " rejections, the limit of the stop policy; the run stops as converged");
                    buffer.clear();
                }
                return false;
            }
            case ROLL_BACK -> {
                if (state == State.CONVERGED) {
                    return false;
                }
                rejectionsHandled = rejected;
                rollBack(rejected);
                return true;
            }
            default -> {
                return false;
            }
        }
    }

    private void rollBack(int rejected) {
        lr *= ((RejectionPolicy.Rollback) settings.policy()).lrFactor();
        if (theta.model().adapter() != null) {
            // The base is the opponent, never changed: rolling back is a fresh adapter.
            LoraAdapter old = theta.model().adapter();
            long seed = java.util.Objects.hash(settings.checkpointing().runId(), plan.opponent().round(), rejected);
            theta.model().attach(LoraAdapter.init(theta.model().config(), old.config(), theta.model().manager(), seed));
            old.close();
        } else {
            try (NoGrad ignored = NoGrad.enter(); NDManager scratch = theta.model().manager().newSubManager();
                 LoadedCheckpoint fresh = CheckpointStore.load(plan.opponent().directory(), scratch)) {
                fresh.model().parameters().forEach((name, p) -> theta.model().parameters().get(name).set(p.toByteBuffer()));
            }
        }
        stepBase = totalSteps();
        step.close();
        step = settings.training().newStep(theta.model(), lr);
        buffer.clear();
        positions.clear();
        positions.putAll(plan.roundStart());
        pairsSeen = 0;
        identicalSeen = 0;
        end.pairArrived();
        log.warn("round {}: {} rejections; θ rolled back to opponent {} at step {}, learning rate now {}; the round's pairs"
                + " are read again", round(), rejected, plan.opponent().id(), stepBase, lr);
        listeners.forEach(l -> l.onRollback(this));
        if (state != State.TRAINING) {
            transition(State.TRAINING, "rolled back");
        }
    }

    /** Trains what is due: full steps (and periodic candidates), the convergence stop, the end of the pass. */
    public void tick() {
        if (state == State.CONVERGED) {
            buffer.clear();
            return;
        }
        RoundSettings.Convergence c = settings.convergence();
        if (pairsSeen >= c.minPairs() && (double) identicalSeen / pairsSeen >= c.share()) {
            transition(State.CONVERGED, identicalSeen + " of " + pairsSeen + " opponent answers equal the human answer (>= "
                    + c.share() + "); nothing left to learn, training stops");
            buffer.clear();
            return;
        }
        int stepPairs = settings.training().pairsPerStep();
        while (buffer.size() >= stepPairs) {
            trainStep(stepPairs);
            if (totalSteps() - lastCheckpointStep >= settings.checkpointing().everySteps()) {
                checkpoint(false);
            }
        }
        if (state != State.TRAINING || (pairsTrained == 0 && buffer.isEmpty())) {
            return;
        }
        RoundEnd.Check check = end.check();
        if (!check.done()) {
            if (end.idle() && !check.detail().equals(lastEndDetail)) {
                log.info("round {}: no new pair for a while, but the pass goes on: {}", round(), check.detail());
            }
            lastEndDetail = check.detail();
            return;
        }
        if (!buffer.isEmpty()) {
            trainStep(buffer.size());
        }
        if (totalSteps() > lastCheckpointStep) {
            checkpoint(true);
        }
        transition(State.ENDED, "the round's pass is over");
    }

    private void trainStep(int n) {
        List<Intake.Accepted> take = new ArrayList<>(buffer.subList(0, n));
        buffer.subList(0, n).clear();
        StepResult result;
        long t0 = System.nanoTime(); // a measurement for the listeners, not control state: the monotonic clock
        if (settings.training().groups() == null) {
            result = step.step(assembler.assemble(take));
        } else {
            try {
                result = step.stepGroups(assembler.assembleGroups(take));
            } catch (TrainStep.NothingToTrain e) {
                // RAFT kept none of these prompts' candidates (all below min.reward): nothing to learn from them.
                log.info("round {}: {} ({} pairs)", round(), e.getMessage(), n);
                pairsTrained += n;
                return;
            }
        }
        pairsTrained += n;
        Duration compute = Duration.ofNanos(System.nanoTime() - t0);
        listeners.forEach(l -> l.onStep(this, result, n, compute));
        lastResult = result;
    }

    /** Pairs of round t−1 scored again under θt so far. */
    public long rescored() {
        return assembler.rescored();
    }

    private void checkpoint(boolean endOfRound) {
        // Offsets: the first pair still buffered, else everything read so far; what lies before is in the weights.
        Map<PartitionKey, Long> offsets = new HashMap<>(positions);
        buffer.forEach(r -> offsets.merge(r.partition(), r.offset(), Math::min));
        lastCheckpointStep = totalSteps();
        Map<String, Double> m = new HashMap<>(Map.of("pairs_trained", (double) pairsTrained, "pairs_seen", (double) pairsSeen,
                "identical_seen", (double) identicalSeen, "rejections_seen", (double) rejectionsSeen,
                "rejections_handled", (double) rejectionsHandled, "lr", lr, "skipped_steps", (double) step.skippedSteps(),
                "identical_share", pairsSeen == 0 ? 0.0 : (double) identicalSeen / pairsSeen));
        if (lastResult != null && !lastResult.skipped()) {
            m.putAll(Map.of("loss", lastResult.loss(), "margin", lastResult.margin(), "reward_accuracy", lastResult.rewardAccuracy()));
        }
        writer.write(theta, step, plan.opponent(), round(), totalSteps(), m, offsets, endOfRound)
                .ifPresent(c -> listeners.forEach(l -> l.onCandidate(this, c)));
    }

    private void transition(State to, String reason) {
        State from = state;
        state = to;
        if (to == State.CONVERGED) {
            log.warn("round {} converged: {}", round(), reason);
        }
        listeners.forEach(l -> l.onStateChange(this, from, to, reason));
    }

    @Override
    public void close() {
        tokenizer.close();
        step.close();
        if (theta.model().adapter() != null) {
            theta.model().adapter().close();
        }
        theta.close();
        if (reference != null) {
            reference.close();
        }
    }
}
