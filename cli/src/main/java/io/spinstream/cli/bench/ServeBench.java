package io.spinstream.cli.bench;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.spinstream.inference.LoadedModel;
import io.spinstream.model.Generator;
import io.spinstream.model.Sampling;
import io.spinstream.model.tokenizer.ChatMessage;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.opponent.Opponent;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.serve.ModelSlot;
import io.spinstream.serve.OpenAiServer;
import io.spinstream.serve.RequestBatcher;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code spin bench serve}: a bounded number of concurrent clients asking {@code spin serve}'s chat endpoint on
 * loopback, against the in-process generator answering the same prompts with as many rows: generated
 * tokens/s both ways and the requests' latency percentiles.
 */
public final class ServeBench {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Latencies in milliseconds. */
    public record Result(int requests, int clients, long servedTokens, double serveSeconds, long inProcessTokens,
                         double inProcessSeconds, double p50, double p95, double max) {
        public double serveTokS() {
            return servedTokens / serveSeconds;
        }

        public double inProcessTokS() {
            return inProcessTokens / inProcessSeconds;
        }

        public String lastLine() {
            return String.format(Locale.ROOT, "serve_tok_s=%.1f inproc_tok_s=%.1f ratio=%.3f p50_ms=%.1f p95_ms=%.1f",
                    serveTokS(), inProcessTokS(), serveTokS() / inProcessTokS(), p50, p95);
        }
    }

    private ServeBench() {
    }

    /** Serves {@code promotion}'s checkpoint and asks it {@code prompts} with {@code clients} at a time. */
    public static Result run(OpponentPromotion promotion, CheckpointLocation location, List<String> prompts, int clients, int maxTokens,
                             PrintStream out) throws Exception {
        try (NDManager manager = NDManager.newBaseManager();
             ModelSlot slot = ModelSlot.fixed(Opponent.load(promotion, manager, PromptTemplate.PLAIN, location).model(), manager,
                     PromptTemplate.PLAIN, location)) {
            LoadedModel model = slot.current();
            long servedTokens;
            double serveSeconds;
            double[] latencies = new double[prompts.size()];
            try (RequestBatcher batcher = new RequestBatcher(slot, manager, clients);
                 OpenAiServer server = new OpenAiServer(new InetSocketAddress("127.0.0.1", 0), slot, batcher, List.of(), null,
                         new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), Clock.systemUTC())) {
                URI uri = URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions");
                HttpClient http = HttpClient.newHttpClient();
                ask(http, uri, model.id(), prompts.get(0), maxTokens, 0); // warm-up: the engine's first pass
                AtomicInteger next = new AtomicInteger();
                AtomicInteger finished = new AtomicInteger();
                long[] tokens = new long[prompts.size()];
                ExecutorService pool = Executors.newFixedThreadPool(clients);
                long t0 = System.nanoTime();
                try {
                    List<Future<?>> running = new ArrayList<>();
                    for (int c = 0; c < clients; c++) {
                        running.add(pool.submit(() -> {
                            for (int i = next.getAndIncrement(); i < prompts.size(); i = next.getAndIncrement()) {
                                long r0 = System.nanoTime();
                                tokens[i] = ask(http, uri, model.id(), prompts.get(i), maxTokens, i);
                                latencies[i] = (System.nanoTime() - r0) / 1e6;
                                finished.incrementAndGet();
                            }
                            return null;
                        }));
                    }
                    long lastLine = t0;
                    while (finished.get() < prompts.size()) {
                        Thread.sleep(50);
                        for (Future<?> f : running) {
                            if (f.isDone()) {
                                f.get(); // a failed client ends the bench with its error
                            }
                        }
                        if (System.nanoTime() - lastLine > 5_000_000_000L) {
                            lastLine = System.nanoTime();
                            double s = (lastLine - t0) / 1e9;
                            double rate = finished.get() / s;
                            out.printf(Locale.ROOT, "  served %d/%d requests (%.1f/s, ETA %.0f s)%n", finished.get(), prompts.size(), rate,
                                    (prompts.size() - finished.get()) / Math.max(rate, 1e-9));
                        }
                    }
                } finally {
                    pool.shutdownNow();
                }
                serveSeconds = (System.nanoTime() - t0) / 1e9;
                servedTokens = Arrays.stream(tokens).sum();
            }
            // The same prompts, seeds and settings in-process, with as many rows as there were clients.
            List<int[]> encoded = prompts.stream().map(p -> model.tokenizer().encodePrompt(List.of(ChatMessage.user(p)))).toList();
            long[] seeds = java.util.stream.LongStream.range(0, prompts.size()).toArray();
            Generator generator = new Generator(model.checkpoint().model());
            long t1 = System.nanoTime();
            long inProcessTokens = generator.answer(manager, encoded, new Sampling(1.0f, 1.0f, maxTokens, 0), seeds, clients)
                    .stream().mapToLong(a -> a.tokens().length).sum();
            double inProcessSeconds = (System.nanoTime() - t1) / 1e9;
            double[] sorted = latencies.clone();
            Arrays.sort(sorted);
            return new Result(prompts.size(), clients, servedTokens, serveSeconds, inProcessTokens, inProcessSeconds,
                    percentile(sorted, 0.50), percentile(sorted, 0.95), sorted[sorted.length - 1]);
        }
    }

    /** Nearest-rank percentile of sorted values. */
    static double percentile(double[] sorted, double q) {
        int rank = (int) Math.ceil(q * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    private static long ask(HttpClient http, URI uri, String model, String prompt, int maxTokens, long seed) throws Exception {
        ObjectNode body = JSON.createObjectNode();
        body.put("model", model);
        body.putArray("messages").addObject().put("role", "user").put("content", prompt);
        body.put("max_tokens", maxTokens);
        body.put("temperature", 1.0);
        body.put("seed", seed);
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IllegalStateException("spin serve answered " + r.statusCode() + ": " + r.body());
        }
        JsonNode answer = JSON.readTree(r.body());
        return answer.path("usage").path("completion_tokens").asLong();
    }

    public static void print(Result r, PrintStream out) {
        out.println("| | requests | clients | generated tok/s | p50 ms | p95 ms | max ms |");
        out.println("|---|---|---|---|---|---|---|");
        out.printf(Locale.ROOT, "| spin serve (HTTP, loopback) | %d | %d | %.1f | %.1f | %.1f | %.1f |%n", r.requests(), r.clients(),
                r.serveTokS(), r.p50(), r.p95(), r.max());
        out.printf(Locale.ROOT, "| in-process generator (%d rows) | %d | | %.1f | | | |%n", r.clients(), r.requests(), r.inProcessTokS());
    }

    public static void plot(Result r, Path file) throws IOException {
        org.knowm.xchart.CategoryChart chart = new org.knowm.xchart.CategoryChartBuilder().width(700).height(450)
                .title("spin serve against the in-process generator (" + r.clients() + " clients)").yAxisTitle("generated tokens/s").build();
        chart.getStyler().setLegendVisible(false);
        chart.addSeries("tokens/s", List.of("spin serve", "in-process"), List.of(r.serveTokS(), r.inProcessTokS()));
        Files.createDirectories(file.toAbsolutePath().getParent());
        org.knowm.xchart.BitmapEncoder.saveBitmap(chart, file.toString(), org.knowm.xchart.BitmapEncoder.BitmapFormat.PNG);
    }
}
