package io.spinstream.trainer;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.spinstream.trainer.round.Intake;
import org.junit.jupiter.api.Test;

import java.time.Clock;

import static org.assertj.core.api.Assertions.assertThat;

/** What the trainer's metrics make of each kind of intake: skipped ones counted apart from dead letters. */
class TrainerMetricsTest {

    @Test
    void unlabelledStaleAndInvalidPairsAreCountedApart() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        TrainerMetrics metrics = new TrainerMetrics(registry, Clock.systemUTC(), () -> null);
        metrics.onIntake(new Intake.Unlabelled("p1"));
        metrics.onIntake(new Intake.Unlabelled("p2"));
        metrics.onIntake(new Intake.Stale("old"));
        metrics.onIntake(new Intake.Invalid("too long"));
        assertThat(registry.counter("spin.trainer.pairs.unlabelled").count()).isEqualTo(2);
        assertThat(registry.counter("spin.trainer.pairs.stale").count()).isEqualTo(1);
        assertThat(registry.counter("spin.trainer.dead.letters").count()).as("only the invalid one").isEqualTo(1);
    }
}
