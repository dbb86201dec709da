package io.spinstream.demo;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The test split's rate intervals: Wilson's, against values computed by hand. */
class TestSplitTest {

    @Test
    void wilsonIntervalsStayInsideZeroToOneAndKeepTheirWidthAtTheEdges() {
        // p = 0.5, n = 100: 0.5 ± 1.96·sqrt(0.25/100 + 1.96²/40000) / (1 + 1.96²/100)
        assertThat(TestSplit.interval(0.5, 100)).containsExactly(new double[]{0.40383, 0.59617}, within(1e-4));
        // p = 0, n = 75: the centre and the half-width are both (z²/2n)/(1 + z²/n) = 0.024362
        assertThat(TestSplit.interval(0.0, 75)).containsExactly(new double[]{0.0, 0.048724}, within(1e-5));
        assertThat(TestSplit.interval(1.0, 75)).containsExactly(new double[]{0.951276, 1.0}, within(1e-5));
    }
}
