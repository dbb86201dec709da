package io.spinstream.trainer;

import io.micrometer.core.instrument.MeterRegistry;
import io.spinstream.model.train.StepResult;
import io.spinstream.trainer.round.Intake;
import io.spinstream.trainer.round.RoundListener;
import io.spinstream.trainer.round.RoundTrainer;

import java.time.Clock;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * The trainer's metrics, observing its rounds (they never steer them). Every series a shipped alert rule or dashboard
 * panel reads exists from the start (counters at 0): a panel of a clean run is not empty.
 */
public final class TrainerMetrics implements RoundListener {
    private final MeterRegistry registry;
    private final Clock clock;
    private final AtomicLong lossMilli = new AtomicLong();
    private final AtomicLong lastCheckpointAt;
    private final Supplier<RoundTrainer> current; // held here: Micrometer keeps only a weak reference to a gauge's object
    private RoundTrainer rescoredRound;
    private long rescoredSeen;

    public TrainerMetrics(MeterRegistry registry, Clock clock, Supplier<RoundTrainer> current) {
        this.registry = registry;
        this.clock = clock;
        this.current = current;
        this.lastCheckpointAt = new AtomicLong(clock.millis() / 1000);
        registry.gauge("spin.trainer.round", current, s -> s.get() == null ? -1 : s.get().round());
        registry.gauge("spin.trainer.loss", lossMilli, v -> v.get() / 1000.0);
        registry.gauge("spin.trainer.converged", current,
                s -> s.get() != null && s.get().state() == RoundTrainer.State.CONVERGED ? 1 : 0);
        // Seconds since the epoch of the newest checkpoint (start time until the first): alerts on "none for too long".
        registry.gauge("spin.trainer.last.checkpoint.timestamp.seconds", lastCheckpointAt);
        for (String counter : new String[]{"spin.trainer.pairs.trained", "spin.trainer.pairs.stale", "spin.trainer.pairs.unlabelled",
                "spin.trainer.pairs.rescored", "spin.trainer.dead.letters", "spin.trainer.rejections", "spin.trainer.rollbacks"}) {
            registry.counter(counter);
        }
        registry.counter("spin.trainer.steps", "skipped", "false");
        registry.counter("spin.trainer.steps", "skipped", "true");
    }

    void deadLetter() {
        registry.counter("spin.trainer.dead.letters").increment();
    }

    @Override
    public void onIntake(Intake intake) {
        switch (intake) {
            case Intake.Stale s -> registry.counter("spin.trainer.pairs.stale").increment();
            case Intake.Invalid i -> deadLetter();
            case Intake.Unlabelled u -> registry.counter("spin.trainer.pairs.unlabelled").increment();
            case Intake.Accepted a -> {
            }
        }
    }

    @Override
    public void onStep(RoundTrainer round, StepResult result, int pairs, java.time.Duration compute) {
        registry.counter("spin.trainer.pairs.trained").increment(pairs);
        registry.timer("spin.trainer.step.time").record(compute);
        registry.counter("spin.trainer.steps", "skipped", Boolean.toString(result.skipped())).increment();
        if (!result.skipped()) {
            lossMilli.set(Math.round(result.loss() * 1000));
        }
        if (round != rescoredRound) {
            rescoredRound = round;
            rescoredSeen = 0;
        }
        registry.counter("spin.trainer.pairs.rescored").increment(round.rescored() - rescoredSeen);
        rescoredSeen = round.rescored();
    }

    @Override
    public void onCandidate(RoundTrainer round, Candidate c) {
        registry.timer("spin.trainer.checkpoint.write").record(c.writeTime());
        lastCheckpointAt.set(clock.millis() / 1000);
    }

    @Override
    public void onRejections(RoundTrainer round, int newRejections) {
        registry.counter("spin.trainer.rejections").increment(newRejections);
    }

    @Override
    public void onRollback(RoundTrainer round) {
        registry.counter("spin.trainer.rollbacks").increment();
    }
}
