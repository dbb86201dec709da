package io.spinstream.runtime.reward;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import io.spinstream.runtime.Backoff;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.TaskMetadata;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The verifier's checks from task metadata, and the reward model contract against a real HTTP server. */
class RewardTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private HttpServer server;

    private static Prompt prompt(String human, boolean verifiable, Map<String, String> attributes) {
        return Prompt.newBuilder().setPromptId("p").setStream("s").setPrompt("q").setHumanResponse(human)
                .setTask(TaskMetadata.newBuilder().setKind("k").setVerifiable(verifiable).setSuites(List.of())
                        .setAttributes(attributes).build())
                .setCreatedAt(Instant.EPOCH).build();
    }

    @Test
    void theMetadataSaysHowAnAnswerIsChecked() {
        Verifier exact = Verifier.of(prompt("1234", true, Map.of())).orElseThrow();
        assertThat(exact.reward(" 1234 ")).isEqualTo(1.0);
        assertThat(exact.reward("1235")).isZero();
        assertThat(Verifier.of(prompt("1234", false, Map.of()))).as("not verifiable, no verify").isEmpty();

        Verifier numeric = Verifier.of(prompt("x", false, Map.of("verify", "numeric", "answer", "3.14", "tolerance", "0.01"))).orElseThrow();
        assertThat(numeric.reward("so it is about 3.141")).isEqualTo(1.0);
        assertThat(numeric.reward("first 3.14, then 2.5")).as("the last number counts").isZero();
        assertThat(numeric.reward("no number")).isZero();

        Verifier regex = Verifier.of(prompt("x", false, Map.of("verify", "regex", "pattern", "(yes|yeah)[.!]?"))).orElseThrow();
        assertThat(regex.reward(" Yes! ")).isEqualTo(1.0);
        assertThat(regex.reward("yes, but")).isZero();
    }

    @Test
    void malformedMetadataIsRefusedByName() {
        assertThatThrownBy(() -> Verifier.of(prompt("x", true, Map.of("verify", "fuzzy")))).hasMessageContaining("expected exact, numeric or regex");
        assertThatThrownBy(() -> Verifier.of(prompt("seven", true, Map.of("verify", "numeric")))).hasMessageContaining("'seven' is not a number");
        assertThatThrownBy(() -> Verifier.of(prompt("1", true, Map.of("verify", "numeric", "tolerance", "-1")))).hasMessageContaining("tolerance must be >= 0");
        assertThatThrownBy(() -> Verifier.of(prompt("1", true, Map.of("verify", "regex")))).hasMessageContaining("pattern is missing");
        assertThatThrownBy(() -> Verifier.of(prompt("1", true, Map.of("verify", "regex", "pattern", "(")))).hasMessageContaining("not a regular expression");
    }

    /** Serves the given statuses in turn (200 bodies scored by length), recording what it was sent. */
    private URI serve(List<Integer> statuses, String okBody, List<JsonNode> received, List<String> auth) throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        AtomicInteger call = new AtomicInteger();
        server.createContext("/score", exchange -> {
            received.add(JSON.readTree(exchange.getRequestBody()));
            auth.add(String.valueOf(exchange.getRequestHeaders().getFirst("Authorization")));
            int status = statuses.get(Math.min(call.getAndIncrement(), statuses.size() - 1));
            byte[] body = (status == 200 ? okBody : "{\"error\": \"busy\"}").getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(status, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/score");
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop(0);
        }
    }

    private static HttpRewardModel model(URI url, int attempts) {
        return new HttpRewardModel(url, Duration.ofSeconds(2), attempts, Optional.of("secret"),
                () -> new Backoff(Duration.ofMillis(5), Duration.ofMillis(20)));
    }

    @Test
    void scoresComeBackInOrderAfterTransientFailuresAreRetried() throws Exception {
        List<JsonNode> received = new ArrayList<>();
        List<String> auth = new ArrayList<>();
        URI url = serve(List.of(503, 429, 200), "{\"scores\": [0.5, -2]}", received, auth);
        assertThat(model(url, 3).score("p1", "2+2=", List.of("4", "5"))).containsExactly(0.5, -2.0);
        assertThat(received).hasSize(3);
        assertThat(received.get(2).path("prompt_id").asText()).isEqualTo("p1");
        assertThat(received.get(2).path("prompt").asText()).isEqualTo("2+2=");
        assertThat(received.get(2).path("responses").get(1).asText()).isEqualTo("5");
        assertThat(auth).containsOnly("Bearer secret");
    }

    @Test
    void anOutageIsUnavailableAndABrokenAnswerIsRefused() throws Exception {
        URI down = serve(List.of(500), "", new ArrayList<>(), new ArrayList<>());
        assertThatThrownBy(() -> model(down, 2).score("p", "q", List.of("a"))).isInstanceOf(io.spinstream.runtime.http.JsonEndpoint.Unavailable.class)
                .hasMessageContaining("HTTP 500").hasMessageContaining("2 attempts");
        stop();
        URI bad = serve(List.of(400), "", new ArrayList<>(), new ArrayList<>());
        assertThatThrownBy(() -> model(bad, 3).score("p", "q", List.of("a"))).isInstanceOf(io.spinstream.runtime.http.JsonEndpoint.Refused.class)
                .hasMessageContaining("HTTP 400");
        stop();
        URI wrong = serve(List.of(200), "{\"scores\": [1]}", new ArrayList<>(), new ArrayList<>());
        assertThatThrownBy(() -> model(wrong, 3).score("p", "q", List.of("a", "b"))).isInstanceOf(io.spinstream.runtime.http.JsonEndpoint.Refused.class)
                .hasMessageContaining("gave 1 scores for 2 responses");
        stop();
        URI nan = serve(List.of(200), "{\"scores\": [\"high\"]}", new ArrayList<>(), new ArrayList<>());
        assertThatThrownBy(() -> model(nan, 3).score("p", "q", List.of("a"))).hasMessageContaining("not a finite number");
        stop();
        // Nothing listening at all: unreachable, transient.
        assertThatThrownBy(() -> model(URI.create("http://127.0.0.1:1/score"), 2).score("p", "q", List.of("a")))
                .isInstanceOf(io.spinstream.runtime.http.JsonEndpoint.Unavailable.class).hasMessageContaining("unreachable");
    }
}
