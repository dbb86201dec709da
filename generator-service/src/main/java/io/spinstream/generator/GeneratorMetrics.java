package io.spinstream.generator;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.spinstream.schemas.CandidateSample;
import io.spinstream.schemas.SyntheticResponse;

import java.time.Duration;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** The generator's meters, registered at start (counters at 0); batches are counted once committed. */
public final class GeneratorMetrics {
    private final Counter answered;
    private final Counter rewarded;
    private final Counter rewardSum;
    private final Counter heldOut;
    private final Counter deadLettered;
    private final Counter tokens;
    private final Counter transientFaults;
    private final Counter opponentRefused;
    private final DistributionSummary batchFill;
    private final Timer batchTime;
    private final Timer modelTime;
    private final AtomicInteger opponentRound = new AtomicInteger(-1);
    private final AtomicLong lag = new AtomicLong();

    public GeneratorMetrics(MeterRegistry registry) {
        this.answered = registry.counter("spin.generator.prompts.answered");
        // Answers the verifier rewarded and the sum of their rewards: their ratio is the opponent's success rate.
        this.rewarded = registry.counter("spin.generator.answers.rewarded");
        this.rewardSum = registry.counter("spin.generator.answers.reward.sum");
        this.heldOut = registry.counter("spin.generator.prompts.heldout");
        this.deadLettered = registry.counter("spin.generator.dead.letters");
        this.tokens = registry.counter("spin.generator.tokens.generated");
        this.transientFaults = registry.counter("spin.generator.transient.faults");
        this.opponentRefused = registry.counter("spin.generator.opponent.refused");
        this.batchFill = DistributionSummary.builder("spin.generator.batch.fill")
                .description("prompts answered per flush / batch size (above 1: rows are refilled as answers finish)")
                .register(registry);
        this.batchTime = registry.timer("spin.generator.batch.time");
        // The model's part of a batch (generation and scoring), beside its whole time: the rest is Kafka, serdes,
        // rewards and batching.
        this.modelTime = registry.timer("spin.generator.model.time");
        registry.gauge("spin.generator.opponent.round", opponentRound);
        // Prompts the current round's group has not answered yet, measured from the broker (committed against log ends).
        registry.gauge("spin.generator.lag", lag);
    }

    /** The current round's group's lag over every prompt stream, as last measured. */
    public void lag(long prompts) {
        lag.set(prompts);
    }

    public Timer modelTime() {
        return modelTime;
    }

    public void opponent(int round) {
        opponentRound.set(round);
    }

    public void opponentRefused() {
        opponentRefused.increment();
    }

    public void transientFault() {
        transientFaults.increment();
    }

    /** A batch committed: its answers, its dead letters, the prompts held out, how long it took. */
    public void committed(List<SyntheticResponse> answers, int deadLetters, int heldOutPrompts, int batchSize, Duration took) {
        answered.increment(answers.size());
        for (SyntheticResponse a : answers) {
            List<Double> rewards = a.getSamples().isEmpty() ? Collections.singletonList(a.getReward())
                    : a.getSamples().stream().map(CandidateSample::getReward).toList();
            for (Double r : rewards) {
                if (r != null) {
                    rewarded.increment();
                    rewardSum.increment(r);
                }
            }
        }
        deadLettered.increment(deadLetters);
        heldOut.increment(heldOutPrompts);
        tokens.increment(answers.stream().mapToLong(SyntheticResponse::getResponseTokens).sum());
        batchFill.record((double) answers.size() / batchSize);
        batchTime.record(took);
    }
}
