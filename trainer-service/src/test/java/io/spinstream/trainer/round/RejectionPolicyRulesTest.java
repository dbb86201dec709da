package io.spinstream.trainer.round;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RejectionPolicyRulesTest {

    @Test
    void eachPolicyDecidesOnTheRejectionsSoFar() {
        assertThat(new RejectionPolicy.Continue().decide(100, 0)).isEqualTo(RejectionPolicy.Action.NONE);
        RejectionPolicy rollback = new RejectionPolicy.Rollback(3, 0.5);
        assertThat(rollback.decide(2, 0)).isEqualTo(RejectionPolicy.Action.NONE);
        assertThat(rollback.decide(3, 0)).isEqualTo(RejectionPolicy.Action.ROLL_BACK);
        assertThat(rollback.decide(5, 3)).as("two new since the last rollback").isEqualTo(RejectionPolicy.Action.NONE);
        assertThat(rollback.decide(6, 3)).isEqualTo(RejectionPolicy.Action.ROLL_BACK);
        RejectionPolicy stop = new RejectionPolicy.Stop(2);
        assertThat(stop.decide(1, 0)).isEqualTo(RejectionPolicy.Action.NONE);
        assertThat(stop.decide(2, 0)).isEqualTo(RejectionPolicy.Action.STOP);
    }

    @Test
    void policiesAreParsedByNameAndRefuseImpossibleParameters() {
        assertThat(RejectionPolicy.of("rollback", 2, 0.25, 5)).isEqualTo(new RejectionPolicy.Rollback(2, 0.25));
        assertThat(RejectionPolicy.of("stop", 2, 0.25, 5)).isEqualTo(new RejectionPolicy.Stop(5));
        assertThat(RejectionPolicy.of("continue", 2, 0.25, 5)).isInstanceOf(RejectionPolicy.Continue.class);
        assertThatThrownBy(() -> RejectionPolicy.of("retry", 1, 0.5, 1)).hasMessageContaining("continue, rollback or stop");
        assertThatThrownBy(() -> new RejectionPolicy.Rollback(1, 0)).hasMessageContaining("lr factor");
        assertThatThrownBy(() -> new RejectionPolicy.Rollback(1, Double.NaN)).hasMessageContaining("lr factor");
    }

    @Test
    void consumedOffsetsRoundTripWithDashesInTopicNames() {
        Map<PartitionKey, Long> offsets = Map.of(new PartitionKey("team-a.spin.pairs", 11), 47L, new PartitionKey("p", 0), 0L);
        assertThat(PartitionKey.encode(offsets)).isEqualTo(Map.of("team-a.spin.pairs-11", 47L, "p-0", 0L));
        assertThat(PartitionKey.decode(PartitionKey.encode(offsets))).isEqualTo(offsets);
        assertThat(PartitionKey.decode(null)).isEmpty();
        assertThatThrownBy(() -> PartitionKey.parse("nopartition")).hasMessageContaining("expected topic-partition");
    }
}
