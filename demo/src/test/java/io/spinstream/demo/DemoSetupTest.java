package io.spinstream.demo;

import io.spinstream.schemas.Prompt;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The demo's labelled share: which prompts keep their answers, what the stream carries, K for group objectives. */
class DemoSetupTest {

    @Test
    void belowOneTheStreamCarriesTheUnlabelledTrainingPromptsAndEveryEvaluationPromptLabelled() {
        DemoSetup all = DemoSetup.defaults();
        DemoSetup part = all.withLabelled(0.25);
        Map<String, Prompt> full = all.prompts().stream().collect(Collectors.toMap(Prompt::getPromptId, Function.identity()));
        List<Prompt> published = part.published();
        List<Prompt> training = all.prompts().stream().filter(p -> all.split().isTraining(p.getPromptId())).toList();
        long labelledTraining = training.stream().filter(p -> part.isLabelled(p.getPromptId())).count();
        assertThat((double) labelledTraining / training.size()).as("about the share asked for").isBetween(0.23, 0.27);
        assertThat(all.published()).isEqualTo(all.prompts());
        assertThat(published).hasSize(full.size() - (int) labelledTraining);
        for (Prompt p : published) {
            Prompt original = full.get(p.getPromptId());
            if (all.split().isTraining(p.getPromptId())) {
                assertThat(part.isLabelled(p.getPromptId())).isFalse();
                assertThat(p.getHumanResponse()).isNull();
                assertThat(p.getTask().getAttributes()).containsEntry("answer", original.getHumanResponse());
                assertThat(p.getPrompt()).isEqualTo(original.getPrompt());
            } else {
                assertThat(p).as("held-out and test prompts stay labelled").isEqualTo(original);
            }
        }
        assertThat(full.values()).as("the setup's own prompts are not changed").allMatch(p -> p.getHumanResponse() != null);
        assertThat(part.base().fingerprint()).isNotEqualTo(all.base().fingerprint());
        assertThatThrownBy(() -> all.withLabelled(0)).hasMessageContaining("labelled share must be in (0, 1]");
        assertThat(part.unfitObjective(Map.of("spin.trainer.objective", "spin:lambda=1"))).contains("raft or rrhf");
        assertThat(part.unfitObjective(Map.of("spin.trainer.objective", "rrhf"))).isNull();
        assertThat(all.unfitObjective(Map.of("spin.trainer.objective", "dpo"))).isNull();
    }

    @Test
    void aGroupObjectiveGetsKSamplesUnlessGiven() {
        java.io.PrintStream quiet = new java.io.PrintStream(java.io.OutputStream.nullOutputStream());
        assertThat(DemoSetup.withGroupSamples(Map.of("spin.trainer.objective", "rrhf:alpha=1"), quiet))
                .containsEntry("spin.generator.samples", "4");
        assertThat(DemoSetup.withGroupSamples(Map.of("spin.trainer.objective", "raft", "spin.generator.samples", "2"), quiet))
                .containsEntry("spin.generator.samples", "2");
        assertThat(DemoSetup.withGroupSamples(Map.of("spin.trainer.objective", "spin:lambda=1"), quiet))
                .doesNotContainKey("spin.generator.samples");
    }
}
