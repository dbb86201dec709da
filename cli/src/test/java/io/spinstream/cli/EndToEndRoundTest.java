package io.spinstream.cli;

import io.spinstream.devstack.DevStack;
import io.spinstream.devstack.BrokerTest;
import io.spinstream.evaluator.EvaluatorKeys;
import io.spinstream.evaluator.EvaluatorMain;
import io.spinstream.evaluator.EvaluatorService;
import io.spinstream.generator.GeneratorKeys;
import io.spinstream.generator.GeneratorMain;
import io.spinstream.generator.GeneratorService;
import io.spinstream.runtime.PollingService;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.config.ConfigKey;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.health.MetricsServer;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
import io.spinstream.schemas.TrainingPair;
import io.spinstream.schemas.Verdict;
import io.spinstream.trainer.TrainerKeys;
import io.spinstream.trainer.TrainerMain;
import io.spinstream.trainer.TrainerService;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One full round through the three services on the real broker and registry, checked topic by topic; the
 * stream also carries unlabelled prompts, which SPIN skips (answered and paired, neither trained nor
 * dead-lettered nor scored).
 */
@BrokerTest
class EndToEndRoundTest {

    @Test
    void oneRoundGoesFromPromptsToAVerdict(DevStack stack, @TempDir Path dir) throws Exception {
        SpinFixtures f = ThreeServices.fixtures(stack, dir);
        List<Prompt> labelled = IntStream.range(0, 40).mapToObj(i -> SpinFixtures.prompt("arith", "e" + i, i + "+" + i + "=",
                String.valueOf(2 * i))).toList();
        List<Prompt> unlabelled = IntStream.range(0, 10).mapToObj(i -> {
            Prompt p = SpinFixtures.prompt("arith", "u" + i, i + "+" + (i + 1) + "=", null);
            p.getTask().setAttributes(Map.of("answer", String.valueOf(2 * i + 1)));
            return p;
        }).toList();
        List<Prompt> prompts = new ArrayList<>(labelled);
        prompts.addAll(unlabelled);
        HeldOutSplit split = new HeldOutSplit(0.25, "spin");
        Set<String> training = prompts.stream().map(Prompt::getPromptId).filter(id -> !split.isHeldOut(id)).collect(Collectors.toSet());
        Set<String> labelledTraining = labelled.stream().map(Prompt::getPromptId).filter(training::contains).collect(Collectors.toSet());
        long labelledHeldOut = labelled.stream().filter(p -> split.isHeldOut(p.getPromptId())).count();
        assertThat(training).as("the split leaves unlabelled prompts to train on").hasSizeGreaterThan(labelledTraining.size());
        f.produce("arith", prompts, List.of());
        f.promote(f.checkpoint("base", 1), 0);

        List<PollingService> services = ThreeServices.start(f);
        try {
            Evaluation verdict = f.read(f.topics.evaluations(), l -> !l.isEmpty(), Duration.ofSeconds(240)).get(0);

            List<SyntheticResponse> answers = f.answers(
                    l -> l.stream().filter(a -> a.getRound() == 0).count() >= training.size(), Duration.ofSeconds(30));
            assertThat(answers.stream().filter(a -> a.getRound() == 0).map(SyntheticResponse::getPromptId).collect(Collectors.toSet()))
                    .isEqualTo(training);
            // Round 0's pairs (a promotion may already have started round 1's).
            List<TrainingPair> pairs = f.read(f.topics.pairs(),
                    l -> l.stream().filter(p -> p.getRound() == 0).count() >= training.size(), Duration.ofSeconds(30))
                    .stream().filter(p -> p.getRound() == 0).toList();
            assertThat(pairs).extracting(TrainingPair::getPromptId).containsExactlyInAnyOrderElementsOf(training);
            assertThat(pairs).allMatch(p -> p.getOpponentId().equals("base"));
            assertThat(pairs).filteredOn(p -> p.getHuman() == null).extracting(TrainingPair::getPromptId)
                    .allMatch(id -> id.startsWith("u")).hasSize(training.size() - labelledTraining.size());
            CheckpointEvent candidate = f.read(f.topics.checkpoints(), l -> !l.isEmpty(), Duration.ofSeconds(10)).get(0);
            assertThat(candidate.getParentOpponentId()).isEqualTo("base");
            assertThat(candidate.getEndOfRound()).isTrue();
            assertThat(candidate.getTrainMetrics().get("pairs_trained")).as("SPIN skips unlabelled prompts")
                    .isEqualTo((double) labelledTraining.size());

            assertThat(verdict.getCheckpointId()).isEqualTo(candidate.getCheckpointId());
            assertThat(verdict.getBaselineId()).isEqualTo("base");
            assertThat(verdict.getVerdict()).isIn(Verdict.PROMOTE, Verdict.REJECT);
            assertThat(verdict.getHeldOutPrompts()).as("only labelled held-out prompts are scored").isEqualTo((int) labelledHeldOut);
            assertThat(f.readAll(f.topics.deadLetters())).as("no dead letters").isEmpty();
            assertThat(verdict.getMetrics()).containsKeys("heldout_nll", "exact_match");
            List<OpponentPromotion> opponents = f.readAllAfter(f.topics.opponent(), Duration.ofSeconds(3));
            if (verdict.getVerdict() == Verdict.PROMOTE) {
                // Round 1 may have reached its own verdict by now (rounds take seconds): round 0 led to this promotion.
                assertThat(opponents).extracting(OpponentPromotion::getCheckpointId).startsWith("base", candidate.getCheckpointId());
                assertThat(opponents).extracting(OpponentPromotion::getRound).doesNotHaveDuplicates();
                // The generator starts round 1 with the promoted candidate.
                List<SyntheticResponse> next = f.answers(l -> l.stream().anyMatch(a -> a.getRound() == 1), Duration.ofSeconds(60));
                assertThat(next).anyMatch(a -> a.getRound() == 1 && a.getOpponentId().equals(candidate.getCheckpointId()));
            } else {
                assertThat(opponents).extracting(OpponentPromotion::getCheckpointId).containsExactly("base");
                assertThat(verdict.getReasons()).isNotEmpty();
            }
            System.out.printf("end-to-end round: verdict %s, reasons %s%n", verdict.getVerdict(), verdict.getReasons());
        } finally {
            services.forEach(PollingService::stop);
        }
        services.forEach(s -> assertThat(s.failure()).isNull());
    }
}
