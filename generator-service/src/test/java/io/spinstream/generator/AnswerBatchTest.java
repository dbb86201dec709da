package io.spinstream.generator;

import ai.djl.ndarray.NDManager;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.spinstream.model.Sampling;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.opponent.Opponent;
import io.spinstream.runtime.opponent.PromptAnswerer;
import io.spinstream.runtime.reward.RewardStep;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.Prompt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/** The generator's rules for a batch of prompts, on a tiny model and without a broker. */
class AnswerBatchTest {

    @Test
    void eachPromptIsAnsweredHeldOutOrRefusedWithItsReasonInItsPlace(@TempDir Path dir) {
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        CheckpointMetadata base = SpinFixtures.withChatTemplate(store, dir, "base", SpinFixtures.ALTERNATING_TEMPLATE);
        HeldOutSplit split = HeldOutSplit.DEFAULT;
        String heldOutId = IntStream.range(0, 1000).mapToObj(i -> "h" + i).filter(id -> !split.isTraining(id)).findFirst()
                .orElseThrow();
        String fine = training(split, "fine");
        String other = training(split, "other");
        String empty = training(split, "empty");
        String twoUsers = training(split, "two-users");
        List<AnswerBatch.Asked> asked = List.of(
                new AnswerBatch.Asked(fine, SpinFixtures.prompt("arith", fine, "1+1=", "2")),
                new AnswerBatch.Asked("mismatch", SpinFixtures.prompt("arith", "p-other", "3+3=", "6")),
                new AnswerBatch.Asked(heldOutId, SpinFixtures.prompt("arith", heldOutId, "4+4=", "8")),
                new AnswerBatch.Asked(empty, SpinFixtures.prompt("arith", empty, "   ", "0")),
                new AnswerBatch.Asked(twoUsers, SpinFixtures.twoUserTurns("arith", twoUsers)),
                new AnswerBatch.Asked(other, SpinFixtures.prompt("arith", other, "2+2=", "4")));
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        GeneratorMetrics metrics = new GeneratorMetrics(registry);
        try (NDManager m = NDManager.newBaseManager();
             Opponent o = Opponent.load(Opponent.initial("r", base, store.directoryOf("base")), m, PromptTemplate.MODEL,
                     CheckpointLocation.ANYWHERE)) {
            AnswerBatch batch = new AnswerBatch(new PromptAnswerer(o, new Sampling(1.0f, 1.0f, 4, 3), "g", Clock.systemUTC()),
                    split, RewardStep.VERIFIER, 1, metrics);
            List<AnswerBatch.Outcome> outcomes = batch.answer(m, asked);

            assertThat(outcomes).hasSize(asked.size());
            assertThat(outcomes.get(0)).isInstanceOfSatisfying(AnswerBatch.Outcome.Answered.class,
                    a -> assertThat(a.answer().getPromptId()).isEqualTo(fine));
            assertThat(outcomes.get(1)).isEqualTo(new AnswerBatch.Outcome.Refused(
                    "record key 'mismatch' is not the prompt's prompt_id 'p-other'"));
            assertThat(outcomes.get(2)).isInstanceOf(AnswerBatch.Outcome.HeldOut.class);
            assertThat(outcomes.get(3)).isEqualTo(new AnswerBatch.Outcome.Refused("empty prompt"));
            assertThat(outcomes.get(4)).isInstanceOfSatisfying(AnswerBatch.Outcome.Refused.class,
                    r -> assertThat(r.reason()).startsWith("the chat template refused the conversation"));
            // One row for two prompts: the second takes the row once the first answer has finished.
            assertThat(outcomes.get(5)).isInstanceOfSatisfying(AnswerBatch.Outcome.Answered.class,
                    a -> assertThat(a.answer().getPromptId()).isEqualTo(other));
            assertThat(metrics.modelTime().count()).as("the model's time measured once per batch").isEqualTo(1);
        }
    }

    /** The first id of the form prefix-i that the split leaves to training. */
    private static String training(HeldOutSplit split, String prefix) {
        return IntStream.range(0, 1000).mapToObj(i -> prefix + "-" + i).filter(split::isTraining).findFirst().orElseThrow();
    }
}
