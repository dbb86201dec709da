package io.spinstream.evaluator;

import ai.djl.ndarray.NDManager;
import io.spinstream.evaluator.suite.SuiteRunner;
import io.spinstream.model.Precision;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.opponent.Opponent;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.Prompt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A held-out prompt the opponent's chat template refuses is left out of the scores: before, it failed the opponent's
 * baseline, and with it every candidate's evaluation, for as long as the prompt stayed on its topic.
 */
class OpponentBaselineTest {

    @Test
    void aHeldOutPromptTheTemplateRefusesIsLeftOutNotFatal(@TempDir Path dir) {
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        CheckpointMetadata base = SpinFixtures.withChatTemplate(store, dir, "base", SpinFixtures.ALTERNATING_TEMPLATE);
        Prompt refused = SpinFixtures.twoUserTurns("chat", "two-users");
        List<Prompt> heldOut = List.of(SpinFixtures.prompt("chat", "a", "1+1=", "2"), refused,
                SpinFixtures.prompt("chat", "b", "2+3=", "5"));
        try (NDManager manager = NDManager.newBaseManager();
             OpponentBaseline baseline = new OpponentBaseline(SuiteRunner.of(List.of("nll"), 4, 4), PromptTemplate.MODEL, 4, 4, "e")) {
            baseline.ensure(Opponent.initial("r", base, store.directoryOf("base")), heldOut, manager, CheckpointLocation.ANYWHERE,
                    Precision.FLOAT32);
            assertThat(baseline.prompts()).isEqualTo(2);
            assertThat(baseline.perPrompt().values()).allSatisfy(v -> assertThat(v).hasSize(2));
        }
    }
}
