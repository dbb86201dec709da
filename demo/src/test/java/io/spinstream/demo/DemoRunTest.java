package io.spinstream.demo;

import io.spinstream.devstack.DevStack;
import io.spinstream.devstack.BrokerTest;
import io.spinstream.schemas.HeldOutSplit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** spin demo on a small configuration: a base, two rounds through the real services, the table and the plot. */
@BrokerTest
class DemoRunTest {

    @Test
    void twoRoundsEndInVerdictsATableAPlotAndTheLastLine(DevStack stack, @TempDir Path dir) throws Exception {
        DemoSetup setup = new DemoSetup(new ArithmeticTask(2, 400, 40, 5, true), "arith", new DemoModel(32, 1, 4, 16),
                new BaseTrainer.Settings(1e-2, 64, 50, 2, 0.0, 150, 300, 100, 1), new HeldOutSplit(0.2, "spin", 0.15));
        Map<String, String> service = new java.util.HashMap<>(DemoSetup.serviceDefaults());
        service.put("spin.gate.min.prompts", "10");
        service.put("spin.trainer.idle.ms", "2000");
        service.put("spin.trainer.lr", "1e-3");
        service.put("spin.trainer.converged.share", "1.0");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        DemoRun run = new DemoRun(new DemoRun.Settings(2, setup, service, dir, Duration.ofMinutes(6)), out);

        DemoBase.Base base = setup.base().ensure(dir.resolve("base"), out::println);
        assertThat(base.reused()).isFalse();
        assertThat(base.metadata().metrics()).containsKeys("train_em", "validation_em", "heldout_em");
        assertThat(setup.base().ensure(dir.resolve("base"), out::println).reused()).as("the second demo reuses the base").isTrue();

        long training = setup.prompts().stream().filter(p -> setup.split().isTraining(p.getPromptId())).count();
        DemoRun.Outcome outcome = run.run(base, stack, "d" + UUID.randomUUID().toString().substring(0, 8));
        String text = bytes.toString(StandardCharsets.UTF_8);
        System.out.println(text);

        assertThat(outcome.rounds()).hasSize(2);
        RoundResult first = outcome.rounds().get(0);
        RoundResult second = outcome.rounds().get(1);
        assertThat(first.opponentId()).isEqualTo(base.metadata().id());
        assertThat(first.candidateId()).isNotEqualTo(second.candidateId());
        assertThat(outcome.rounds()).allMatch(r -> r.verdict().equals("PROMOTE") || r.verdict().equals("REJECT"));
        assertThat(outcome.rounds()).allMatch(r -> r.trainMetrics().get("pairs_trained") > 0);
        assertThat(first.trainMetrics().get("lr")).isEqualTo(1e-3);
        assertThat(first.parentId()).isEqualTo(base.metadata().id());
        assertThat(first.trainMetrics().get("pairs_trained")).as("round 1 trained every training pair once")
                .isEqualTo((double) training);
        if (first.promoted()) {
            // The next round is trained from the promoted candidate, at the configured learning rate.
            assertThat(second.parentId()).isEqualTo(first.candidateId());
            assertThat(second.opponentId()).isEqualTo(first.candidateId());
            assertThat(second.opponentRound()).isEqualTo(1);
            assertThat(second.trainMetrics().get("lr")).isEqualTo(1e-3);
        } else {
            // A rejected round is trained again from the same opponent at half the learning rate.
            assertThat(second.parentId()).isEqualTo(base.metadata().id());
            assertThat(second.opponentId()).isEqualTo(base.metadata().id());
            assertThat(second.trainMetrics().get("lr")).isEqualTo(5e-4);
            assertThat(first.reasons()).isNotEmpty();
        }
        assertThat(outcome.rounds()).allMatch(r -> !r.metrics().isEmpty(), "every candidate was scored (none stale)");
        assertThat(first.baseline("exact_match")).isEqualTo(outcome.baseEm());
        int promoted = (int) outcome.rounds().stream().filter(RoundResult::promoted).count();
        assertThat(outcome.promoted()).isEqualTo(promoted);
        assertThat(outcome.lastLine()).matches("base_em=[0-9.]+ final_em=[0-9.]+ promoted=" + promoted + "/2"
                + " test_base_em=[0-9.]+ test_final_em=[0-9.]+ test_delta_ci=\\[[-+][0-9.]+,[-+][0-9.]+\\]");
        long testPrompts = setup.prompts().stream().filter(p -> setup.split().isTest(p.getPromptId())).count();
        assertThat(outcome.test().n()).as("the test split, no decision's prompts").isEqualTo((int) testPrompts).isPositive();
        assertThat(outcome.test().ciLow()).isLessThanOrEqualTo(outcome.test().improvement());
        assertThat(outcome.test().ciHigh()).isGreaterThanOrEqualTo(outcome.test().improvement());
        if (promoted == 0) {
            assertThat(outcome.test().improvement()).as("the base against itself").isZero();
        }

        String table = Files.readString(outcome.table());
        assertThat(table).contains("| 0 | " + base.metadata().id(), "| 1 | " + first.candidateId(), "| 2 | " + second.candidateId());
        byte[] png = Files.readAllBytes(outcome.plot());
        assertThat(png.length).isGreaterThan(1000);
        assertThat(new String(png, 1, 3, StandardCharsets.US_ASCII)).isEqualTo("PNG");
        assertThat(Files.exists(base.store().root().resolve("base-sft.png"))).isTrue();
        assertThat(text).contains("published 400 addition-2 prompts", "round 1: " + first.candidateId());
    }

    /** The base on a labelled 30% of the training prompts, then a RAFT round on the unlabelled rest with the verifier. */
    @Test
    void raftOnTheUnlabelledRestTrainsEveryUnlabelledPromptAndReportsTheTestSplit(DevStack stack, @TempDir Path dir) throws Exception {
        DemoSetup setup = new DemoSetup(new ArithmeticTask(2, 400, 40, 5, true), "arith", new DemoModel(32, 1, 4, 16),
                new BaseTrainer.Settings(1e-2, 64, 50, 2, 0.0, 150, 300, 100, 1), new HeldOutSplit(0.2, "spin", 0.15), 0.3);
        Map<String, String> service = new java.util.HashMap<>(DemoSetup.serviceDefaults());
        service.put("spin.gate.min.prompts", "10");
        service.put("spin.trainer.idle.ms", "2000");
        service.put("spin.trainer.objective", "raft");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        service = DemoSetup.withGroupSamples(service, out);
        assertThat(service).containsEntry("spin.generator.samples", "4");
        DemoRun run = new DemoRun(new DemoRun.Settings(1, setup, service, dir, Duration.ofMinutes(6)), out);

        DemoBase.Base base = setup.base().ensure(dir.resolve("base"), out::println);
        assertThat(base.metadata().id()).as("another recipe than the all-labelled base")
                .isNotEqualTo("base-" + setup.withLabelled(1.0).base().fingerprint());
        long unlabelled = setup.prompts().stream().filter(p -> setup.split().isTraining(p.getPromptId()) && !setup.isLabelled(p.getPromptId())).count();
        long labelled = setup.prompts().stream().filter(p -> setup.split().isTraining(p.getPromptId()) && setup.isLabelled(p.getPromptId())).count();
        DemoRun.Outcome outcome = run.run(base, stack, "u" + UUID.randomUUID().toString().substring(0, 8));
        String text = bytes.toString(StandardCharsets.UTF_8);
        System.out.println(text);

        assertThat(text).contains("base: SFT of a", "on " + labelled + " training prompts", unlabelled + " training prompts unlabelled");
        assertThat(outcome.rounds()).hasSize(1);
        assertThat(outcome.rounds().get(0).trainMetrics().get("pairs_trained")).as("every unlabelled prompt trained from rewards")
                .isEqualTo((double) unlabelled);
        assertThat(outcome.test().n()).isPositive();
        assertThat(outcome.lastLine()).contains("test_base_em=", "test_delta_ci=");
    }
}
