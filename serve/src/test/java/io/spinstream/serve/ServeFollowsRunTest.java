package io.spinstream.serve;

import ai.djl.ndarray.NDManager;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.DevStack;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.opponent.OpponentWatcher;
import io.spinstream.runtime.testing.SpinFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code spin serve --run}: the run's opponent, swapped on promotion while clients keep asking. */
@BrokerTest
class ServeFollowsRunTest {

    @Test
    void aPromotionIsServedWithoutFailingARequest(DevStack stack, @TempDir Path dir) throws Exception {
        SpinFixtures f = new SpinFixtures(stack, dir.resolve("store"), List.of(), Map.of());
        CheckpointMetadata first = f.checkpoint("first", 1);
        CheckpointMetadata second = f.checkpoint("second", 2);
        f.promote(first, 0);
        try (NDManager manager = NDManager.newBaseManager();
             ModelSlot slot = ModelSlot.following(new OpponentWatcher(f.kafka, f.topics.opponent(), f.runId).start(), manager,
                     PromptTemplate.PLAIN, CheckpointLocation.within(f.store.root()), 60_000);
             RequestBatcher batcher = new RequestBatcher(slot, manager, 8);
             OpenAiServer server = new OpenAiServer(new InetSocketAddress("127.0.0.1", 0), slot, batcher, List.of(f.runId), null,
                     new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), Clock.systemUTC())) {
            OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1").apiKey("none")
                    .maxRetries(0).build();
            ChatCompletionCreateParams ask = ChatCompletionCreateParams.builder().model(f.runId).addUserMessage("1+1=")
                    .maxCompletionTokens(4).temperature(0.0).build();
            assertThat(client.chat().completions().create(ask).model()).isEqualTo("first");

            // Clients keep asking, by the run's name, while the next opponent is promoted.
            ExecutorService pool = Executors.newFixedThreadPool(3);
            try {
                List<Future<List<String>>> askers = java.util.stream.IntStream.range(0, 3).mapToObj(i -> pool.submit(() -> {
                    List<String> served = new java.util.ArrayList<>();
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                    while (System.nanoTime() < deadline && !served.contains("second")) {
                        ChatCompletion c = client.chat().completions().create(ask);
                        assertThat(c.choices()).hasSize(1);
                        served.add(c.model());
                    }
                    return served;
                })).toList();
                Thread.sleep(300);
                f.promote(second, 1);
                for (Future<List<String>> a : askers) {
                    List<String> served = a.get(90, TimeUnit.SECONDS);
                    assertThat(served).as("every request answered, by the first model and then the second").endsWith("second")
                            .containsOnly("first", "second");
                    int switched = served.indexOf("second");
                    assertThat(served.subList(switched, served.size())).containsOnly("second");
                }
            } finally {
                pool.shutdownNow();
            }
            assertThat(client.models().list().data()).extracting(m -> m.id()).containsExactly("second", f.runId);
        }
    }
}
