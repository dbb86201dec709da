package io.spinstream.demo;

import io.spinstream.evaluator.gate.PromotionGate;
import io.spinstream.evaluator.suite.Metric;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.Prompt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The ablation runs the trainer's round core: an ungated variant promotes every round, a refused one rolls back. */
class AblationTest {

    @Test
    void variantsTrainTheSameStepsAndARefusedRoundIsRolledBackByTheDemosPolicy(@TempDir Path dir) {
        DemoSetup setup = new DemoSetup(new ArithmeticTask(2, 400, 40, 5, true), "arith", new DemoModel(32, 1, 4, 16),
                new BaseTrainer.Settings(1e-2, 64, 50, 2, 0.0, 150, 300, 100, 1), new HeldOutSplit(0.2, "spin", 0.15));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        DemoBase.Base base = setup.base().ensure(dir.resolve("base"), out::println);
        List<Prompt> prompts = setup.prompts();
        List<Prompt> training = prompts.stream().filter(p -> setup.split().isTraining(p.getPromptId())).toList();
        List<Prompt> test = prompts.stream().filter(p -> setup.split().isTest(p.getPromptId())).toList();
        List<Prompt> heldOut = prompts.stream().filter(p -> setup.split().isHeldOut(p.getPromptId())).toList();
        Path work = dir.resolve("ablation");
        Ablation.Settings demo = AblationPlan.settings(2, List.of(7L), work);
        assertThat(demo.round().policy()).as("the demo's policy, parsed by the trainer").hasToString("Rollback[after=1, lrFactor=0.5]");
        // A gate no candidate can pass: every gated round is refused.
        Ablation.Settings settings = new Ablation.Settings(2, List.of(7L), demo.round(),
                new PromotionGate(Metric.named("exact_match"), 1.0, Map.of(), 1, 0.95, 0.01), demo.sampling());
        List<Ablation.Run> runs = new Ablation(settings, out).run(base, training, heldOut, test, List.of(
                new Ablation.Variant("sft", "sft", 1e-3, false),
                new Ablation.Variant("spin-gated", "spin:lambda=1,alpha=1", 1e-3, true),
                new Ablation.Variant("rrhf", "rrhf", 1e-3, false, 3)), work);

        Ablation.Run sft = runs.get(0);
        Ablation.Run gated = runs.get(1);
        int batch = demo.round().training().batchSize();
        long stepsPerRound = (training.size() + batch - 1) / batch;
        assertThat(sft.steps()).isEqualTo(2 * stepsPerRound).isEqualTo(gated.steps());
        assertThat(sft.promoted()).isEqualTo(2);
        assertThat(sft.em()[2]).isNotNaN();
        assertThat(gated.promoted()).isZero();
        assertThat(gated.refused()).hasSize(2);
        assertThat(gated.em()).as("the base stays in force").containsOnly(gated.em()[0]);
        assertThat((double) gated.sequencesForward() / gated.steps()).isGreaterThan((double) sft.sequencesForward() / sft.steps());
        // RRHF: K = 3 verifier-rewarded samples and the human answer per prompt, the same optimiser steps.
        Ablation.Run rrhf = runs.get(2);
        assertThat(rrhf.steps()).isEqualTo(sft.steps());
        assertThat(rrhf.promoted()).isEqualTo(2);
        assertThat(sft.sequencesForward()).isEqualTo(2L * training.size());
        assertThat(rrhf.sequencesForward()).isEqualTo(4L * 2 * training.size());

        // The gated run's candidates: round 1 at the variant's lr, then the round trained again from the base at half of it.
        CheckpointStore store = new CheckpointStore(work.resolve("spin-gated-s7"));
        List<CheckpointMetadata> candidates = store.list().stream().flatMap(id -> store.metadata(id).stream())
                .sorted(Comparator.comparingLong(CheckpointMetadata::step)).toList();
        assertThat(candidates).hasSize(2).allMatch(c -> c.parentId().equals(base.metadata().id()));
        assertThat(candidates.get(0).metrics().get("lr")).isEqualTo(1e-3);
        assertThat(candidates.get(1).metrics().get("lr")).isEqualTo(5e-4);
        assertThat(candidates.get(1).metrics().get("pairs_trained")).isEqualTo(2.0 * training.size());
        assertThat(candidates.get(1).offsets()).isEqualTo(candidates.get(0).offsets());
        // The ungated run's second round trained from its first candidate.
        CheckpointStore sftStore = new CheckpointStore(work.resolve("sft-s7"));
        assertThat(sftStore.list().stream().flatMap(id -> sftStore.metadata(id).stream()).map(CheckpointMetadata::parentId))
                .containsExactlyInAnyOrder(base.metadata().id(), "sft-s7-r0-s" + stepsPerRound);

        // Half the training prompts unlabelled for the group objective: RRHF learns there from rewards, while
        // continued SFT (which cannot) gets every human answer; the same steps either way.
        java.util.Set<String> half = training.stream().map(Prompt::getPromptId).filter(id -> id.hashCode() % 2 == 0)
                .collect(java.util.stream.Collectors.toSet());
        Ablation.Settings oneRound = new Ablation.Settings(1, List.of(7L), demo.round(), settings.gate(), demo.sampling());
        List<Ablation.Run> partly = new Ablation(oneRound, out).run(base, new Ablation.Splits(training, heldOut, test, half),
                List.of(new Ablation.Variant("sft", "sft", 1e-3, false), new Ablation.Variant("rrhf", "rrhf", 1e-3, false, 3)),
                dir.resolve("partly"));
        assertThat(partly.get(0).labelled()).isEqualTo(1.0);
        assertThat(partly.get(1).labelled()).isEqualTo(1.0 - (double) half.size() / training.size());
        assertThat(partly.get(1).steps()).isEqualTo(partly.get(0).steps());
        assertThat((double) partly.get(1).sequencesForward()).as("3 samples, and the human answer on the labelled half")
                .isCloseTo((3 + partly.get(1).labelled()) * training.size(), org.assertj.core.api.Assertions.within(1.0 * partly.get(1).steps()));
        assertThat(Ablation.table(partly)).contains("| all |", "%, rewards on the rest |");

        String table = Ablation.table(runs);
        assertThat(table).startsWith("| variant | objective | lr | gated | held-out EM by round (mean) |");
        assertThat(table).contains("| sft | sft | 1e-03 | no |", "| spin-gated | spin:lambda=1,alpha=1 | 1e-03 | yes |");
        assertThat(table).contains("| test EM per seed | test Δ vs sft [95% CI] |");
        assertThat(sft.testEm()).hasSize(test.size());
        assertThat(gated.finalTestEm()).as("the base in force, scored on the test split").isBetween(0.0, 1.0);
        assertThat(table.lines().filter(l -> l.startsWith("| spin-gated")).findFirst().orElseThrow())
                .containsPattern("\\[[-+][0-9.]+, [-+][0-9.]+\\] (better|worse|not distinguishable) \\| all \\|$");
    }
}
