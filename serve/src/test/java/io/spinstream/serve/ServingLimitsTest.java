package io.spinstream.serve;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.spinstream.inference.LoadedModel;
import io.spinstream.model.Precision;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.testing.SpinFixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a careless or hostile client may ask of {@code spin serve}: each limit refused with OpenAI's error shape and
 * the right status, integers parsed strictly, every endpoint behind the key, adapter loading off unless allowed, and a
 * normal request answered at once beside silent connections and a stream that is never read.
 */
class ServingLimitsTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final ServingLimits TIGHT = new ServingLimits(4096, 2, 2, 200, 64, 8, false, 2);
    @TempDir
    static Path dir;
    static NDManager manager;
    static ModelSlot slot;
    static RequestBatcher batcher;
    static OpenAiServer server;
    static String id;
    static HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void serve() throws Exception {
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        CheckpointMetadata base = SpinFixtures.tinyCheckpoint(store, dir, "limited", 3);
        id = base.id();
        manager = NDManager.newBaseManager();
        slot = ModelSlot.fixed(LoadedModel.load(base.id(), store.directoryOf(id), Optional.empty(), manager, PromptTemplate.CHAT, Precision.FLOAT32), manager, PromptTemplate.CHAT, CheckpointLocation.ANYWHERE);
        batcher = new RequestBatcher(slot, manager, 8);
        server = new OpenAiServer(new InetSocketAddress("127.0.0.1", 0), slot, batcher, List.of(), "sk-limits",
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), Clock.systemUTC(), TIGHT);
    }

    @AfterAll
    static void stop() {
        server.close();
        batcher.close();
        slot.close();
        manager.close();
    }

    private static HttpResponse<String> post(String path, byte[] body, String key) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> completion(String json) throws Exception {
        return post("/v1/completions", json.replace("MODEL", id).getBytes(StandardCharsets.UTF_8), "sk-limits");
    }

    private static void refused(HttpResponse<String> r, int status, String message) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        JsonNode error = JSON.readTree(r.body()).path("error");
        assertThat(error.path("message").asText()).contains(message);
        assertThat(error.has("type")).isTrue();
    }

    @Test
    void everyLimitIsRefusedWithItsStatusAndReason() throws Exception {
        refused(post("/v1/completions", ("{\"model\": \"" + id + "\", \"prompt\": \"" + "x".repeat(5000) + "\"}")
                .getBytes(StandardCharsets.UTF_8), "sk-limits"), 413, "takes at most 4096 bytes");
        refused(completion("{\"model\": \"MODEL\", \"prompt\": \"1+1=\", \"max_tokens\": 2, \"n\": 3}"), 400, "--max-n");
        refused(completion("{\"model\": \"MODEL\", \"prompt\": [\"a\", \"b\", \"c\"], \"max_tokens\": 2}"), 400, "--max-prompts");
        refused(completion("{\"model\": \"MODEL\", \"prompt\": [\"1+1=\", \"2+2=\"], \"max_tokens\": 50, \"n\": 2}"), 400,
                "--max-request-tokens");
        refused(completion("{\"model\": \"MODEL\", \"prompt\": \"1+1=\", \"max_tokens\": 2147483647}"), 400,
                "maximum context length is 64 tokens");
        refused(completion("{\"model\": \"MODEL\", \"prompt\": [4294967296, 5], \"max_tokens\": 2}"), 400, "must be an id in [0, 259)");
        refused(completion("{\"model\": \"MODEL\", \"prompt\": \"1+1=\", \"max_tokens\": 2, \"logprobs\": 4294967301}"), 400,
                "'logprobs' must be a whole number in [0, 20]");
        for (String seed : List.of("true", "1.5", "\"x\"", "18446744073709551616")) {
            refused(completion("{\"model\": \"MODEL\", \"prompt\": \"1+1=\", \"max_tokens\": 2, \"seed\": " + seed + "}"), 400,
                    "'seed' must be a whole number");
        }
        byte[] overlong = "{\"model\": \"MODEL\", \"prompt\": \"a\u0000b\", \"max_tokens\": 2}".replace("MODEL", id)
                .getBytes(StandardCharsets.UTF_8);
        int at = new String(overlong, StandardCharsets.UTF_8).indexOf('\u0000');
        overlong[at] = (byte) 0xC0; // C0 AF: an overlong '/'
        byte[] bad = new byte[overlong.length + 1];
        System.arraycopy(overlong, 0, bad, 0, at + 1);
        bad[at + 1] = (byte) 0xAF;
        System.arraycopy(overlong, at + 1, bad, at + 2, overlong.length - at - 1);
        refused(post("/v1/completions", bad, "sk-limits"), 400, "not valid UTF-8");

        HttpResponse<String> fine = completion("{\"model\": \"MODEL\", \"prompt\": \"1+1=\", \"max_tokens\": 2, \"seed\": 7}");
        assertThat(fine.statusCode()).as(fine.body()).isEqualTo(200);
        assertThat(JSON.readTree(fine.body()).path("choices")).hasSize(1);
    }

    @Test
    void everyEndpointAsksForTheKeyAndAdapterLoadingIsOffUnlessAllowed() throws Exception {
        HttpResponse<String> metrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/metrics"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(metrics.statusCode()).isEqualTo(401);
        HttpResponse<String> withKey = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/metrics"))
                .header("Authorization", "Bearer sk-limits").build(), HttpResponse.BodyHandlers.ofString());
        assertThat(withKey.statusCode()).isEqualTo(200);
        assertThat(withKey.body()).contains("spin_serve");
        refused(post("/v1/load_lora_adapter", "{\"lora_name\": \"x\", \"lora_path\": \"y\"}".getBytes(StandardCharsets.UTF_8),
                "sk-limits"), 403, "--allow-adapter-loading");
        refused(post("/v1/load_lora_adapter", "{}".getBytes(StandardCharsets.UTF_8), null), 401, "Incorrect API key");
    }

    @Test
    void aNormalRequestIsAnsweredBesideSilentClientsAndAStreamNobodyReads() throws Exception {
        List<Socket> sockets = new ArrayList<>();
        try {
            for (int i = 0; i < 300; i++) {
                Socket s = new Socket("127.0.0.1", server.port());
                if (i % 2 == 0) {
                    s.getOutputStream().write("POST /v1/completions HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
                }
                sockets.add(s);
            }
            long t0 = System.nanoTime();
            HttpResponse<String> first = completion("{\"model\": \"MODEL\", \"prompt\": \"3+4=\", \"max_tokens\": 2}");
            assertThat(first.statusCode()).isEqualTo(200);
            // Bounds for a loaded 2-core CI machine: the failure they guard against is an answer that never comes.
            assertThat((System.nanoTime() - t0) / 1e9).as("answered beside 300 silent clients").isLessThan(5.0);
            // A streamed request whose client never reads a byte of the answer.
            Socket reader = new Socket("127.0.0.1", server.port());
            reader.setReceiveBufferSize(1024);
            sockets.add(reader);
            byte[] body = ("{\"model\": \"" + id + "\", \"prompt\": [\"1+1=\", \"2+2=\"], \"max_tokens\": 40, \"n\": 2,"
                    + " \"stream\": true}").getBytes(StandardCharsets.UTF_8);
            OutputStream out = reader.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-limits\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();

            long t = System.nanoTime();
            HttpResponse<String> fine = completion("{\"model\": \"MODEL\", \"prompt\": \"3+4=\", \"max_tokens\": 2}");
            double seconds = (System.nanoTime() - t) / 1e9;
            assertThat(fine.statusCode()).as(fine.body()).isEqualTo(200);
            System.out.printf("a normal request beside 300 silent clients and an unread stream: %.3f s%n", seconds);
            assertThat(seconds).as("answered beside 300 silent clients and an unread stream").isLessThan(5.0);
        } finally {
            for (Socket s : sockets) {
                s.close();
            }
        }
    }
}
