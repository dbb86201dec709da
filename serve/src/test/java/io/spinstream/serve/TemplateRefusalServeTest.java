package io.spinstream.serve;

import ai.djl.ndarray.NDManager;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.BadRequestException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.spinstream.inference.LoadedModel;
import io.spinstream.model.Precision;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.testing.SpinFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A conversation the model's own template refuses is the client's 400 with the template's message; the server goes on. */
class TemplateRefusalServeTest {

    @Test
    void aRefusedConversationIsA400AndTheNextRequestIsAnswered(@TempDir Path dir) throws Exception {
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        CheckpointMetadata base = SpinFixtures.withChatTemplate(store, dir, "alternating", SpinFixtures.ALTERNATING_TEMPLATE);
        try (NDManager manager = NDManager.newBaseManager();
             ModelSlot slot = ModelSlot.fixed(LoadedModel.load(base.id(), store.directoryOf(base.id()), Optional.empty(), manager, PromptTemplate.MODEL,
                     Precision.FLOAT32), manager, PromptTemplate.MODEL, CheckpointLocation.ANYWHERE);
             RequestBatcher batcher = new RequestBatcher(slot, manager, 4);
             OpenAiServer server = new OpenAiServer(new InetSocketAddress("127.0.0.1", 0), slot, batcher, List.of("run"), null,
                     new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), Clock.systemUTC())) {
            OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1")
                    .apiKey("unused").maxRetries(0).build();
            ChatCompletionCreateParams twoUsers = ChatCompletionCreateParams.builder().model(base.id())
                    .addUserMessage("hi").addUserMessage("1+1=").maxCompletionTokens(3).temperature(0.0).build();
            assertThatThrownBy(() -> client.chat().completions().create(twoUsers))
                    .isInstanceOfSatisfying(BadRequestException.class, e -> assertThat(e.getMessage())
                            .contains("the chat template refused the conversation: Conversation roles must alternate"));
            ChatCompletion fine = client.chat().completions().create(ChatCompletionCreateParams.builder().model(base.id())
                    .addUserMessage("1+1=").maxCompletionTokens(3).temperature(0.0).build());
            assertThat(fine.choices()).hasSize(1);
            assertThat(fine.usage().orElseThrow().completionTokens()).isBetween(1L, 3L);
        }
    }
}
