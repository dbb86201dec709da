package io.spinstream.cli;

import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.DevStack;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.runtime.PollingService;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
import io.spinstream.schemas.Verdict;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The three services under LoRA with float16 weights: round 0's candidate is a PEFT adapter over the base,
 * evaluated merged; once it is the opponent the generator answers with it and round 1 trains a new adapter
 * over it (the lineage base → r0 → r1).
 */
@BrokerTest
class LoraRoundTest {

    @Test
    void loraCandidatesAreAdaptersThatBecomeOpponentsAndBasesOfTheNextRound(DevStack stack, @TempDir Path dir) throws Exception {
        SpinFixtures f = ThreeServices.fixtures(stack, dir, Map.of("SPIN_TRAINER_LORA_RANK", "4", "SPIN_TRAINER_LORA_ALPHA", "8",
                "SPIN_MODEL_DTYPE", "float16"));
        List<Prompt> prompts = IntStream.range(0, 40).mapToObj(i -> SpinFixtures.prompt("arith", "e" + i, i + "+" + i + "=",
                String.valueOf(2 * i))).toList();
        f.produce("arith", prompts, List.of());
        CheckpointMetadata base = f.checkpoint("base", 1);
        f.promote(base, 0);
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));

        List<PollingService> services = ThreeServices.start(f);
        try {
            Evaluation verdict = f.read(f.topics.evaluations(), l -> !l.isEmpty(), Duration.ofSeconds(240)).get(0);
            CheckpointEvent candidate = f.read(f.topics.checkpoints(), l -> !l.isEmpty(), Duration.ofSeconds(10)).get(0);
            CheckpointMetadata r0 = store.metadata(candidate.getCheckpointId()).orElseThrow();
            assertThat(r0.isAdapter()).isTrue();
            assertThat(r0.baseId()).isEqualTo("base");
            assertThat(r0.baseSha256()).isEqualTo(base.sha256());
            Path r0Dir = store.directoryOf(r0.id());
            assertThat(r0Dir.resolve("adapter_config.json")).exists();
            assertThat(Files.size(r0Dir.resolve("adapter_model.safetensors")))
                    .isLessThan(Files.size(store.directoryOf("base").resolve("model.safetensors")) / 4);
            assertThat(verdict.getCheckpointId()).isEqualTo(r0.id());
            assertThat(verdict.getMetrics()).containsKeys("heldout_nll", "exact_match");
            assertThat(verdict.getMetrics().get("heldout_nll")).isFinite();

            if (verdict.getVerdict() != Verdict.PROMOTE) {
                f.promote(r0, 1); // as an operator would: the gate is not what this test is about
            }
            List<SyntheticResponse> next = f.answers(l -> l.stream().anyMatch(a -> a.getRound() == 1), Duration.ofSeconds(60));
            assertThat(next).anyMatch(a -> a.getRound() == 1 && a.getOpponentId().equals(r0.id()));
            assertThat(next).filteredOn(a -> a.getRound() == 1).allMatch(a -> Double.isFinite(a.getOpponentLogpHuman()));

            CheckpointEvent round1 = f.read(f.topics.checkpoints(), l -> l.stream().anyMatch(e -> e.getRound() == 1),
                    Duration.ofSeconds(120)).stream().filter(e -> e.getRound() == 1).findFirst().orElseThrow();
            CheckpointMetadata r1 = store.metadata(round1.getCheckpointId()).orElseThrow();
            assertThat(r1.isAdapter()).isTrue();
            assertThat(r1.baseId()).as("round 1's adapter is trained over round 0's merged opponent").isEqualTo(r0.id());
            List<OpponentPromotion> opponents = f.readAll(f.topics.opponent());
            assertThat(opponents).extracting(OpponentPromotion::getCheckpointId).startsWith("base", r0.id());
        } finally {
            services.forEach(PollingService::stop);
        }
        services.forEach(s -> assertThat(s.failure()).isNull());
    }
}
