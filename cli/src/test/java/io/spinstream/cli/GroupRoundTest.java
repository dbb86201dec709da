package io.spinstream.cli;

import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.DevStack;
import io.spinstream.runtime.PollingService;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.CandidateSample;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
import io.spinstream.schemas.TrainingPair;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * RAFT through the three services: K = 3 answers per prompt, each rewarded by the verifier (the prompts
 * are verifiable additions), carried to the pairs, trained as groups, the candidate evaluated.
 */
@BrokerTest
class GroupRoundTest {

    @Test
    void raftTrainsOnRewardedSamplesThroughTheServices(DevStack stack, @TempDir Path dir) throws Exception {
        SpinFixtures f = ThreeServices.fixtures(stack, dir, Map.of("SPIN_GENERATOR_SAMPLES", "3", "SPIN_GENERATOR_TEMPERATURE", "1.0",
                "SPIN_TRAINER_OBJECTIVE", "raft:top=2"));
        List<Prompt> prompts = IntStream.range(0, 40).mapToObj(i -> SpinFixtures.prompt("arith", "g" + i, i + "+" + i + "=",
                String.valueOf(2 * i))).toList();
        f.produce("arith", prompts, List.of());
        f.promote(f.checkpoint("base", 1), 0);
        List<PollingService> services = ThreeServices.start(f);
        try {
            Evaluation verdict = f.read(f.topics.evaluations(), l -> !l.isEmpty(), Duration.ofSeconds(240)).get(0);
            List<SyntheticResponse> answers = f.answers(l -> !l.isEmpty(), Duration.ofSeconds(10));
            for (SyntheticResponse a : answers) {
                assertThat(a.getSamples()).extracting(CandidateSample::getSample).containsExactly(0, 1, 2);
                assertThat(a.getSamples().get(0).getResponse()).isEqualTo(a.getResponse());
                assertThat(a.getSamples()).allMatch(s -> s.getReward() != null && (s.getReward() == 0.0 || s.getReward() == 1.0));
                // The reward is the verifier's: 1 exactly when the answer is the sum.
                String expected = a.getPromptId().substring(1);
                int sum = 2 * Integer.parseInt(expected);
                assertThat(a.getSamples()).allMatch(s -> s.getReward() == (s.getResponse().trim().equals(String.valueOf(sum)) ? 1.0 : 0.0));
            }
            assertThat(answers.stream().flatMap(a -> a.getSamples().stream()).map(CandidateSample::getResponse).distinct().count())
                    .as("distinct seeds give distinct answers").isGreaterThan(answers.size());
            List<TrainingPair> pairs = f.read(f.topics.pairs(), l -> !l.isEmpty(), Duration.ofSeconds(10));
            assertThat(pairs).allMatch(p -> p.getSamples().size() == 3);
            CheckpointEvent candidate = f.read(f.topics.checkpoints(), l -> !l.isEmpty(), Duration.ofSeconds(10)).get(0);
            assertThat(candidate.getTrainMetrics().get("pairs_trained")).isPositive();
            assertThat(verdict.getCheckpointId()).isEqualTo(candidate.getCheckpointId());
            assertThat(verdict.getMetrics()).containsKeys("heldout_nll", "exact_match");
        } finally {
            services.forEach(PollingService::stop);
        }
        services.forEach(s -> assertThat(s.failure()).isNull());
    }
}
