package io.spinstream.runtime.opponent;

import ai.djl.ndarray.NDManager;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.Sampling;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.tokenizer.ByteLevelBpe;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.ChatTurn;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
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
    /** Mistral-style: user and assistant must alternate, starting with the user. */
    static final String ALTERNATING = "{{ bos_token }}{% for message in messages %}"
            + "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
            + "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
            + "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
            + "{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}";

    @Test
    void aRefusedConversationIsNamedAndTheOthersAreAnswered(@TempDir Path dir) throws Exception {
        Path tokenizer = dir.resolve("tokenizer.json");
        ByteLevelBpe.write(tokenizer, ByteLevelBpe.bytesOnly());
        Files.writeString(dir.resolve("tokenizer_config.json"), new com.fasterxml.jackson.databind.ObjectMapper()
                .writeValueAsString(java.util.Map.of("chat_template", ALTERNATING, "bos_token", "", "eos_token", "")));
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        CheckpointMetadata base;
        try (NDManager m = NDManager.newBaseManager(); LlamaModel model = SpinFixtures.tinyModel(m, 1)) {
            base = store.save(model, tokenizer, CheckpointMetadata.of("base", null, 0, 0, null, null));
        }
        Prompt fine = SpinFixtures.prompt("chat", "fine", "1+1=", "2");
        Prompt twoUsers = SpinFixtures.prompt("chat", "two-users", "1+1=", "2");
        twoUsers.setMessages(List.of(new ChatTurn("user", "hi"), new ChatTurn("user", "1+1=")));
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
