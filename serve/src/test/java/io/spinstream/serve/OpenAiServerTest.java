package io.spinstream.serve;

import com.fasterxml.jackson.databind.JsonNode;
import ai.djl.ndarray.NDManager;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.spinstream.inference.LoadedModel;
import io.spinstream.model.Generator;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.Precision;
import io.spinstream.model.Sampling;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.tokenizer.ByteLevelBpe;
import io.spinstream.model.tokenizer.ChatMessage;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.testing.SpinFixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.util.Map;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code spin serve}'s endpoint, with the official OpenAI Java SDK as its client, over a tiny checkpoint. */
class OpenAiServerTest {
    @TempDir
    static Path dir;
    static NDManager manager;
    static ModelSlot slot;
    static RequestBatcher batcher;
    static OpenAiServer server;
    static OpenAIClient client;
    static String id;

    @BeforeAll
    static void serve() throws Exception {
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        Path tokenizer = dir.resolve("tokenizer.json");
        ByteLevelBpe.write(tokenizer, ByteLevelBpe.bytesOnly());
        CheckpointMetadata base;
        try (NDManager m = NDManager.newBaseManager(); LlamaModel model = SpinFixtures.tinyModel(m, 3)) {
            // Larger weights than the init, so that answers are not uniform noise and greedy decoding has a clear choice.
            model.parameters().forEach((name, p) -> {
                if (name.endsWith("proj.weight") || name.endsWith("embed_tokens.weight")) {
                    p.muli(20);
                }
            });
            base = store.save(model, tokenizer, CheckpointMetadata.of("served", null, 0, 0, null, null));
        }
        id = base.id();
        manager = NDManager.newBaseManager();
        slot = ModelSlot.fixed(LoadedModel.load(base.id(), store.directoryOf(id), Optional.empty(), manager, PromptTemplate.CHAT, Precision.FLOAT32), manager, PromptTemplate.CHAT, CheckpointLocation.ANYWHERE);
        batcher = new RequestBatcher(slot, manager, 8);
        server = new OpenAiServer(new InetSocketAddress("127.0.0.1", 0), slot, batcher, List.of("my-run"), "sk-test",
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), Clock.systemUTC());
        client = client("sk-test");
    }

    static OpenAIClient client(String key) {
        return OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1").apiKey(key).maxRetries(0).build();
    }

    @AfterAll
    static void stop() {
        server.close();
        batcher.close();
        slot.close();
        manager.close();
    }

    /** What the model answers in-process, greedily, to {@code prompt} (its tokens) — independent of the server. */
    static String greedy(int[] prompt, int maxTokens) {
        Generator.Answer a = new Generator(slot.current().checkpoint().model())
                .answer(manager, List.of(prompt), Sampling.greedy(maxTokens), new long[]{0}).get(0);
        return slot.current().tokenizer().decode(a.tokens());
    }

    static ChatCompletionCreateParams chat(String text, int maxTokens) {
        return ChatCompletionCreateParams.builder().model(id).addUserMessage(text).maxCompletionTokens(maxTokens).temperature(0.0).build();
    }

    @Test
    void modelsListTheCheckpointAndItsAlias() {
        assertThat(client.models().list().data()).extracting(m -> m.id()).containsExactly(id, "my-run");
    }

    @Test
    void aChatCompletionIsTheModelsOwnAnswerUnderItsChatTemplate() {
        ChatCompletion c = client.chat().completions().create(chat("12+30=", 6));
        int[] prompt = slot.current().tokenizer().encodePrompt(List.of(ChatMessage.user("12+30=")));
        String expected = greedy(prompt, 6);
        assertThat(c.choices()).hasSize(1);
        assertThat(c.choices().get(0).message().content()).contains(expected);
        assertThat(c.model()).isEqualTo(id);
        assertThat(c.usage().orElseThrow().promptTokens()).isEqualTo(prompt.length);
        assertThat(c.usage().orElseThrow().completionTokens()).isBetween(1L, 6L);
        assertThat(c.choices().get(0).finishReason().asString()).isIn("stop", "length");
    }

    @Test
    void aStreamedChatSendsTheSameTextInPiecesThenTheFinishReason() {
        ChatCompletion whole = client.chat().completions().create(chat("7+8=", 12));
        StringBuilder streamed = new StringBuilder();
        List<String> finish = new ArrayList<>();
        int chunks = 0;
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(chat("7+8=", 12))) {
            for (ChatCompletionChunk chunk : (Iterable<ChatCompletionChunk>) s.stream()::iterator) {
                chunks++;
                chunk.choices().forEach(ch -> {
                    ch.delta().content().ifPresent(streamed::append);
                    ch.finishReason().ifPresent(f -> finish.add(f.asString()));
                });
            }
        }
        assertThat(streamed.toString()).isEqualTo(whole.choices().get(0).message().content().orElse(""));
        assertThat(chunks).as("text chunks and the closing one").isGreaterThan(1);
        assertThat(finish).containsExactly(whole.choices().get(0).finishReason().asString());

        // With log-probs: each chunk carries its tokens' entries; together they are the whole answer's.
        ChatCompletionCreateParams withLogprobs = ChatCompletionCreateParams.builder().model(id).addUserMessage("7+8=")
                .maxCompletionTokens(12).temperature(0.0).logprobs(true).topLogprobs(2).build();
        var wholeContent = client.chat().completions().create(withLogprobs).choices().get(0).logprobs().orElseThrow().content().orElseThrow();
        List<Double> streamedLogprobs = new ArrayList<>();
        List<String> streamedTokens = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(withLogprobs)) {
            for (ChatCompletionChunk chunk : (Iterable<ChatCompletionChunk>) s.stream()::iterator) {
                chunk.choices().forEach(ch -> ch.logprobs().flatMap(l -> l.content()).ifPresent(c -> c.forEach(t -> {
                    streamedLogprobs.add(t.logprob());
                    streamedTokens.add(t.token());
                    assertThat(t.topLogprobs()).hasSize(2);
                })));
            }
        }
        assertThat(wholeContent).isNotEmpty();
        assertThat(streamedTokens).isEqualTo(wholeContent.stream().map(t -> t.token()).toList());
        assertThat(streamedLogprobs).hasSameSizeAs(wholeContent);
        for (int i = 0; i < wholeContent.size(); i++) {
            assertThat(streamedLogprobs.get(i)).isCloseTo(wholeContent.get(i).logprob(), org.assertj.core.api.Assertions.within(1e-6));
        }
    }

    @Test
    void completionsTakeNSeedAndStop() {
        CompletionCreateParams params = CompletionCreateParams.builder().model("my-run").prompt("3+4=").maxTokens(8).n(3)
                .temperature(1.0).seed(42).build();
        Completion first = client.completions().create(params);
        Completion again = client.completions().create(params);
        assertThat(first.choices()).hasSize(3);
        assertThat(first.choices()).extracting(c -> c.text()).isEqualTo(again.choices().stream().map(c -> c.text()).toList());
        assertThat(first.choices().stream().map(c -> c.text()).distinct().count()).as("each choice its own seed").isGreaterThan(1);

        int[] prompt = slot.current().tokenizer().encode("3+4=");
        String greedy = greedy(prompt, 8);
        assertThat(greedy).hasSizeGreaterThan(2);
        String stop = greedy.substring(1, 2);
        Completion cut = client.completions().create(CompletionCreateParams.builder().model(id).prompt("3+4=").maxTokens(8)
                .temperature(0.0).stop(stop).build());
        assertThat(cut.choices().get(0).text()).isEqualTo(greedy.substring(0, greedy.indexOf(stop)));
        assertThat(cut.choices().get(0).finishReason().asString()).isEqualTo("stop");
    }

    @Test
    void logProbsAreTheModelsOwnForEveryTokenWithTheLikeliestAlternatives() throws Exception {
        int[] prompt = slot.current().tokenizer().encode("3+4=");
        Completion c = client.completions().create(CompletionCreateParams.builder().model(id).prompt("3+4=").maxTokens(6)
                .temperature(0.0).logprobs(3).build());
        var lp = c.choices().get(0).logprobs().orElseThrow();
        List<Double> tokenLogprobs = lp.tokenLogprobs().orElseThrow();
        long made = c.usage().orElseThrow().completionTokens();
        assertThat(tokenLogprobs).hasSize((int) made);
        // A map from token text: byte-level tokens that are not UTF-8 alone all read U+FFFD and share one entry.
        assertThat(lp.topLogprobs().orElseThrow()).allSatisfy(top -> assertThat(top._additionalProperties()).hasSizeBetween(1, 3));
        // Independently: the answer's tokens scored teacher-forced after the prompt (no EOS: the sum of its tokens).
        Generator.Answer greedy = new Generator(slot.current().checkpoint().model())
                .answer(manager, List.of(prompt), Sampling.greedy(6), new long[]{0}).get(0);
        int[] answer = java.util.Arrays.copyOf(greedy.tokens(), (int) made);
        double scored = io.spinstream.model.LogProbs.sums(slot.current().checkpoint().model(), manager,
                io.spinstream.model.TokenBatch.of(List.of(new io.spinstream.model.TokenBatch.Example(prompt, answer)), 0))[0];
        assertThat(tokenLogprobs.stream().mapToDouble(Double::doubleValue).sum()).isCloseTo(scored, org.assertj.core.api.Assertions.within(1e-3));

        ChatCompletion chat = client.chat().completions().create(ChatCompletionCreateParams.builder().model(id).addUserMessage("3+4=")
                .maxCompletionTokens(5).temperature(0.0).logprobs(true).topLogprobs(2).build());
        var content = chat.choices().get(0).logprobs().orElseThrow().content().orElseThrow();
        assertThat(content).hasSize((int) chat.usage().orElseThrow().completionTokens());
        assertThat(content).allSatisfy(t -> {
            assertThat(t.topLogprobs()).hasSize(2);
            assertThat(t.logprob()).as("greedy: the likeliest").isCloseTo(t.topLogprobs().get(0).logprob(),
                    org.assertj.core.api.Assertions.within(1e-6));
        });

        // echo with max_tokens 0 scores the prompt: each token after the first, given the ones before it.
        HttpResponse<String> echo = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + server.port() + "/v1/completions")).header("Authorization", "Bearer sk-test")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + id + "\",\"prompt\":\"3+4=\",\"max_tokens\":0,"
                        + "\"echo\":true,\"logprobs\":0}")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(echo.statusCode()).as(echo.body()).isEqualTo(200);
        var choice = new com.fasterxml.jackson.databind.ObjectMapper().readTree(echo.body()).path("choices").get(0);
        assertThat(choice.path("text").asText()).isEqualTo("3+4=");
        var echoed = choice.path("logprobs").path("token_logprobs");
        assertThat(echoed).hasSize(prompt.length);
        assertThat(echoed.get(0).isNull()).isTrue();
        double promptSum = 0;
        for (int i = 1; i < prompt.length; i++) {
            promptSum += echoed.get(i).asDouble();
        }
        double promptScored = io.spinstream.model.LogProbs.sums(slot.current().checkpoint().model(), manager, io.spinstream.model.TokenBatch.of(
                List.of(new io.spinstream.model.TokenBatch.Example(new int[]{prompt[0]}, java.util.Arrays.copyOfRange(prompt, 1, prompt.length))),
                0))[0];
        assertThat(promptSum).isCloseTo(promptScored, org.assertj.core.api.Assertions.within(1e-3));

        // echo with logprobs k: each position's k likeliest tokens, as OpenAI and vLLM give them, beside the prompt's own.
        // The prompt followed by the model's own greedy answer: at each answer position the likeliest token is the
        // answer's (what lm-evaluation-harness reads as is_greedy).
        StringBuilder withAnswer = new StringBuilder();
        for (int t : prompt) {
            withAnswer.append(withAnswer.isEmpty() ? "" : ",").append(t);
        }
        for (int t : greedy.tokens()) {
            withAnswer.append(",").append(t);
        }
        HttpResponse<String> topK = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + server.port() + "/v1/completions")).header("Authorization", "Bearer sk-test")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + id + "\",\"prompt\":[" + withAnswer + "],\"max_tokens\":0,"
                        + "\"echo\":true,\"logprobs\":3}")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(topK.statusCode()).as(topK.body()).isEqualTo(200);
        var topScored = new com.fasterxml.jackson.databind.ObjectMapper().readTree(topK.body()).path("choices").get(0).path("logprobs");
        int total = prompt.length + greedy.tokens().length;
        assertThat(topScored.path("top_logprobs")).hasSize(total);
        assertThat(topScored.path("top_logprobs").get(0).isNull()).isTrue();
        int entries = 0;
        for (int i = 1; i < total; i++) {
            var top = topScored.path("top_logprobs").get(i);
            entries += top.size();
            double own = topScored.path("token_logprobs").get(i).asDouble();
            String piece = topScored.path("tokens").get(i).asText();
            // 3 likeliest and the token's own, fewer where tokens share a text (single bytes of a character decode to one
            // replacement character: the JSON object keeps one of them, as OpenAI's format does).
            assertThat(top.size()).as("position %d", i).isBetween(1, 4);
            assertThat(top.path(piece).asDouble()).isCloseTo(own, org.assertj.core.api.Assertions.within(1e-9));
            double best = Double.NEGATIVE_INFINITY;
            for (var e : (Iterable<Map.Entry<String, JsonNode>>) top::fields) {
                best = Math.max(best, e.getValue().asDouble());
            }
            if (i < prompt.length) {
                assertThat(own).as("the same score as without top log-probs").isCloseTo(echoed.get(i).asDouble(),
                        org.assertj.core.api.Assertions.within(1e-4));
                assertThat(best).isGreaterThanOrEqualTo(own);
            } else {
                assertThat(own).as("answer position %d: the greedy token is the likeliest", i).isCloseTo(best,
                        org.assertj.core.api.Assertions.within(1e-6));
            }
        }
        assertThat(entries).as("the likeliest tokens beside each position's own, not the own alone").isGreaterThan(2 * (total - 1));

        // The same prompt as token ids (how a scorer sends exact tokens): the same scores.
        StringBuilder ids = new StringBuilder();
        for (int t : prompt) {
            ids.append(ids.isEmpty() ? "" : ",").append(t);
        }
        HttpResponse<String> byIds = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + server.port() + "/v1/completions")).header("Authorization", "Bearer sk-test")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + id + "\",\"prompt\":[" + ids + "],\"max_tokens\":0,"
                        + "\"echo\":true,\"logprobs\":0}")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(byIds.statusCode()).as(byIds.body()).isEqualTo(200);
        var idsChoice = new com.fasterxml.jackson.databind.ObjectMapper().readTree(byIds.body()).path("choices").get(0);
        assertThat(idsChoice.path("logprobs").path("token_logprobs")).isEqualTo(echoed);
        assertThat(idsChoice.path("text").asText()).isEqualTo("3+4=");

        // A list of prompts (ids and text), each with one generated token, as a scorer batches them: choice i is
        // prompt i's, and its first tokens' log-probs are the prompt's own.
        HttpResponse<String> listed = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + server.port() + "/v1/completions")).header("Authorization", "Bearer sk-test")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + id + "\",\"prompt\":[\"12+1=\",[" + ids + "]],\"max_tokens\":1,"
                        + "\"echo\":true,\"logprobs\":1,\"temperature\":0}")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(listed.statusCode()).as(listed.body()).isEqualTo(200);
        var both = new com.fasterxml.jackson.databind.ObjectMapper().readTree(listed.body());
        assertThat(both.path("choices")).hasSize(2);
        assertThat(both.path("choices").get(0).path("text").asText()).startsWith("12+1=");
        var second = both.path("choices").get(1);
        assertThat(second.path("index").asInt()).isEqualTo(1);
        assertThat(second.path("logprobs").path("token_logprobs")).hasSize(prompt.length + 1);
        for (int i = 0; i < prompt.length; i++) {
            assertThat(second.path("logprobs").path("token_logprobs").get(i)).isEqualTo(echoed.get(i));
        }
        assertThat(both.path("usage").path("prompt_tokens").asInt()).isEqualTo(prompt.length + slot.current().tokenizer().encode("12+1=").length);
    }

    @Test
    void requestsFromSeveralClientsAreAnsweredTogetherAndAsAlone() throws Exception {
        List<String> prompts = List.of("1+1=", "22+3=", "9+9=", "40+2=", "5+55=", "6+0=");
        List<String> alone = prompts.stream().map(p -> client.chat().completions().create(chat(p, 6)).choices().get(0).message()
                .content().orElse("")).toList();
        ExecutorService pool = Executors.newFixedThreadPool(prompts.size());
        try {
            List<Future<String>> together = new ArrayList<>();
            for (String p : prompts) {
                together.add(pool.submit(() -> client.chat().completions().create(chat(p, 6)).choices().get(0).message().content().orElse("")));
            }
            for (int i = 0; i < prompts.size(); i++) {
                assertThat(together.get(i).get()).as(prompts.get(i)).isEqualTo(alone.get(i));
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void errorsComeInOpenAisShapeWithItsStatuses() throws Exception {
        assertThatThrownBy(() -> client.chat().completions().create(ChatCompletionCreateParams.builder().model("gpt-4o")
                .addUserMessage("hi").build()))
                .isInstanceOfSatisfying(NotFoundException.class, e -> assertThat(e.code()).contains("model_not_found"));
        assertThatThrownBy(() -> client("wrong").models().list())
                .isInstanceOfSatisfying(UnauthorizedException.class, e -> assertThat(e.code()).contains("invalid_api_key"));
        assertThatThrownBy(() -> client.completions().create(CompletionCreateParams.builder().model(id).prompt("x".repeat(200))
                .maxTokens(4).build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> assertThat(e.code()).contains("context_length_exceeded"));

        HttpResponse<String> bad = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions"))
                .header("Authorization", "Bearer sk-test").POST(HttpRequest.BodyPublishers.ofString("{not json")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(bad.body()).contains("\"type\":\"invalid_request_error\"").contains("could not parse the JSON body");
    }
}
