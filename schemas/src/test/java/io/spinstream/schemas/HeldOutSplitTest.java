package io.spinstream.schemas;

import org.junit.jupiter.api.Test;

import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class HeldOutSplitTest {

    @Test
    void theSplitIsDeterministicAndHasTheRequestedShare() {
        HeldOutSplit split = new HeldOutSplit(0.2, "spin");
        long held = IntStream.range(0, 20_000).filter(i -> split.isHeldOut("p-" + i)).count();
        assertThat(held / 20_000.0).isCloseTo(0.2, within(0.01));
        assertThat(split.isHeldOut("p-42")).isEqualTo(new HeldOutSplit(0.2, "spin").isHeldOut("p-42"));
        // A known value, so that another implementation can check itself against this one.
        assertThat(split.fraction("p-0")).isCloseTo(new HeldOutSplit(0.5, "spin").fraction("p-0"), within(0.0));
        assertThat(new HeldOutSplit(0.0, "spin").isHeldOut("anything")).isFalse();
        assertThatThrownBy(() -> new HeldOutSplit(1.0, "x")).hasMessageContaining("[0, 1)");
    }

    @Test
    void anotherSaltGivesAnotherSplit() {
        long differ = IntStream.range(0, 2000)
                .filter(i -> new HeldOutSplit(0.5, "a").isHeldOut("p" + i) != new HeldOutSplit(0.5, "b").isHeldOut("p" + i))
                .count();
        assertThat(differ).isGreaterThan(700);
    }

    @Test
    void theTestSplitIsDisjointFromTheHeldOutOneAndNeitherIsTrained() {
        HeldOutSplit split = new HeldOutSplit(0.2, "spin", 0.1);
        int heldOut = 0;
        int test = 0;
        int training = 0;
        for (int i = 0; i < 20000; i++) {
            String id = "p" + i;
            boolean h = split.isHeldOut(id);
            boolean t = split.isTest(id);
            boolean tr = split.isTraining(id);
            assertThat((h ? 1 : 0) + (t ? 1 : 0) + (tr ? 1 : 0)).as(id + " is in exactly one split").isEqualTo(1);
            assertThat(h).as("the held-out split does not move when a test split is added").isEqualTo(new HeldOutSplit(0.2, "spin").isHeldOut(id));
            heldOut += h ? 1 : 0;
            test += t ? 1 : 0;
            training += tr ? 1 : 0;
        }
        assertThat(heldOut / 20000.0).isCloseTo(0.2, org.assertj.core.api.Assertions.within(0.01));
        assertThat(test / 20000.0).isCloseTo(0.1, org.assertj.core.api.Assertions.within(0.01));
        assertThat(training / 20000.0).isCloseTo(0.7, org.assertj.core.api.Assertions.within(0.01));
        assertThatThrownBy(() -> new HeldOutSplit(0.6, "x", 0.5)).hasMessageContaining("held-out + test < 1");
    }
}
