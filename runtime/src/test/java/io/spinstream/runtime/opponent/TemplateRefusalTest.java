package io.spinstream.runtime.opponent;

import ai.djl.ndarray.NDManager;
import io.spinstream.model.Sampling;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A conversation the model's own template refuses (its {@code raise_exception}, as Mistral's templates do for roles
 * that do not alternate) is that prompt's problem: the answerer names it, so the service dead-letters the record and
 * answers the rest, instead of dying on it and again on every restart.
 */
class TemplateRefusalTest {

    @Test
    void aRefusedConversationIsNamedAndTheOthersAreAnswered(@TempDir Path dir) {
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        CheckpointMetadata base = SpinFixtures.withChatTemplate(store, dir, "base", SpinFixtures.ALTERNATING_TEMPLATE);
        Prompt fine = SpinFixtures.prompt("chat", "fine", "1+1=", "2");
        Prompt twoUsers = SpinFixtures.twoUserTurns("chat", "two-users");
        try (NDManager m = NDManager.newBaseManager();
             Opponent o = Opponent.load(Opponent.initial("r", base, store.directoryOf("base")), m, PromptTemplate.MODEL,
                     CheckpointLocation.ANYWHERE)) {
            PromptAnswerer answerer = new PromptAnswerer(o, new Sampling(1.0f, 1.0f, 4, 3), "g", Clock.systemUTC());
            assertThat(answerer.invalid(fine)).isNull();
            assertThat(answerer.invalid(twoUsers)).isEqualTo("the chat template refused the conversation: "
                    + "Conversation roles must alternate user/assistant/user/assistant/...");
            List<SyntheticResponse> answered = answerer.answer(m, List.of(fine));
            assertThat(answered).extracting(SyntheticResponse::getPromptId).containsExactly("fine");
        }
    }
}
