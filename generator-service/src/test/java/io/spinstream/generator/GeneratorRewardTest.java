package io.spinstream.generator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.DevStack;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.config.ConfigException;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.health.MetricsServer;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.CandidateSample;
import io.spinstream.schemas.DeadLetter;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code spin.generator.reward=http}: a reward model served over HTTP (a real server in this JVM) scores
 * every sample; its outage is waited out, its refusal of one prompt is that prompt's dead letter.
 */
@BrokerTest
class GeneratorRewardTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HeldOutSplit SPLIT = new HeldOutSplit(0.2, "spin");

    /** Scores a response by its length; refuses prompt "bad"; answers 503 to the first {@code down} requests. */
    private static HttpServer rewardModel(int down, AtomicInteger calls, Map<String, String> auth) throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/score", exchange -> {
            JsonNode body = JSON.readTree(exchange.getRequestBody());
            auth.put(body.path("prompt_id").asText(), String.valueOf(exchange.getRequestHeaders().getFirst("Authorization")));
            int call = calls.incrementAndGet();
            int status;
            String reply;
            if (call <= down) {
                status = 503;
                reply = "{\"error\": \"warming up\"}";
            } else if (body.path("prompt_id").asText().equals("bad")) {
                status = 422;
                reply = "{\"error\": \"prompt too long for the judge\"}";
            } else {
                status = 200;
                StringBuilder scores = new StringBuilder();
                body.path("responses").forEach(r -> scores.append(scores.isEmpty() ? "" : ",").append(r.asText().length() + 0.5));
                reply = "{\"scores\": [" + scores + "]}";
            }
            byte[] bytes = reply.getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(status, bytes.length);
            exchange.getResponseBody().write(bytes);
            exchange.close();
        });
        server.start();
        return server;
    }

    @Test
    void aRewardModelScoresEverySampleItsOutageIsWaitedOutAndItsRefusalIsADeadLetter(DevStack stack, @TempDir Path dir) throws Exception {
        AtomicInteger calls = new AtomicInteger();
        Map<String, String> auth = new ConcurrentHashMap<>();
        HttpServer server = rewardModel(6, calls, auth);
        try {
            SpinFixtures f = GeneratorServiceTest.fixtures(stack, dir);
            f.promote(f.checkpoint("base", 1), 0);
            List<Prompt> prompts = new java.util.ArrayList<>(IntStream.range(0, 24).mapToObj(i -> SpinFixtures.prompt("arith", "r" + i,
                    i + "+1=", String.valueOf(i + 1))).toList());
            // Not verifiable and unlabelled: the reward model needs neither.
            Prompt open = SpinFixtures.prompt("arith", "chat", "Say hi.", null);
            open.getTask().setVerifiable(false);
            prompts.add(open);
            Prompt bad = SpinFixtures.prompt("arith", "bad", "1+1=", "2");
            f.produce("arith", prompts, List.of());
            f.produce("arith", List.of(bad), List.of());
            Map<String, String> env = new HashMap<>(Map.of("SPIN_GENERATOR_REWARD", "http",
                    "SPIN_GENERATOR_REWARD_URL", "http://127.0.0.1:" + server.getAddress().getPort() + "/score",
                    "SPIN_GENERATOR_REWARD_ATTEMPTS", "2", "SPIN_GENERATOR_REWARD_TOKEN", "s3cret",
                    "SPIN_GENERATOR_SAMPLES", "3", "SPIN_GENERATOR_TEMPERATURE", "1.0"));
            ServiceConfig config = f.config(env);
            PrometheusMeterRegistry registry = MetricsServer.newRegistry();
            GeneratorService service = new GeneratorService(SpinContext.from(config), GeneratorMain.settings(config), registry);
            service.start();
            try {
                Set<String> expected = prompts.stream().map(Prompt::getPromptId).filter(SPLIT::isTraining).collect(Collectors.toSet());
                assertThat(expected).contains("chat");
                f.answers(a -> a.size() >= expected.size(), Duration.ofSeconds(120));
                List<SyntheticResponse> answers = f.readAllAfter(f.topics.synthetic(), Duration.ofSeconds(1));
                assertThat(answers).extracting(SyntheticResponse::getPromptId).as("each once, the refused one not at all")
                        .containsExactlyInAnyOrderElementsOf(expected);
                for (SyntheticResponse a : answers) {
                    assertThat(a.getSamples()).hasSize(3).allMatch(s -> s.getReward() == s.getResponse().length() + 0.5);
                    assertThat(a.getReward()).isEqualTo(a.getSamples().get(0).getReward());
                }
                assertThat(registry.counter("spin.generator.transient.faults").count()).as("the outage was met").isPositive();
                List<DeadLetter> letters = f.deadLetters(1, Duration.ofSeconds(30));
                assertThat(letters).singleElement().satisfies(d -> assertThat(d.getError()).contains("HTTP 422", "too long for the judge"));
                assertThat(new String(GeneratorServiceTest.bytes(letters.get(0).getRawKey()), StandardCharsets.UTF_8)).isEqualTo("bad");
                assertThat(auth.values()).containsOnly("Bearer s3cret");
                assertThat(registry.counter("spin.generator.answers.rewarded").count()).isEqualTo(3.0 * expected.size());
                assertThat(service.deadBecause()).isEmpty();
            } finally {
                service.stop();
            }
            assertThat(service.failure()).isNull();
            assertThatThrownBy(() -> GeneratorMain.settings(f.config(Map.of("SPIN_GENERATOR_REWARD", "http"))))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("spin.generator.reward.url (env SPIN_GENERATOR_REWARD_URL)");
            assertThatThrownBy(() -> f.config(Map.of("SPIN_GENERATOR_REWARD", "judge")))
                    .hasMessageContaining("spin.generator.reward").hasMessageContaining("verifier or http");
        } finally {
            server.stop(0);
        }
    }
}
