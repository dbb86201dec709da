package io.spinstream.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.Counter;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.spinstream.model.tokenizer.ChatMessage;
import io.spinstream.model.tokenizer.ChatTemplate;
import io.spinstream.inference.LoadedModel;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import io.spinstream.runtime.http.HttpServerLimits;

/**
 * OpenAI's REST shape over a served model: {@code GET /v1/models}, {@code POST /v1/completions} and
 * {@code POST /v1/chat/completions} (the model's chat template), streamed as server-sent events when asked;
 * errors in OpenAI's error object with its HTTP statuses; an optional bearer key; {@code /metrics}.
 */
public final class OpenAiServer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    static {
        // Without TCP_NODELAY a small response waits for the client's delayed ACK (Nagle): ~40 ms a request on
        // loopback. The JDK server reads this once, when its first server is made.
        if (System.getProperty("sun.net.httpserver.nodelay") == null) {
            System.setProperty("sun.net.httpserver.nodelay", "true");
        }
    }

    /** A request refused: OpenAI's error object, with the status to send it with. */
    static final class ApiError extends RuntimeException {
        final int status;
        final String type;
        final String code;
        final String param;

        ApiError(int status, String type, String code, String param, String message) {
            super(message);
            this.status = status;
            this.type = type;
            this.code = code;
            this.param = param;
        }

        static ApiError invalid(String param, String message) {
            return new ApiError(400, "invalid_request_error", null, param, message);
        }
    }

    private final HttpServer http;
    // A virtual thread per request: a slow client holds one of its own, never a platform thread or the model's.
    private final ExecutorService threads = HttpServerLimits.perRequestThreads("serve-http");
    private final ServingLimits limits;
    private final RequestBatcher batcher;
    private final ModelSlot models;
    private final List<String> aliases;
    private final String apiKey;
    private final PrometheusMeterRegistry metrics;
    private final Clock clock;
    private final Random seeds = new Random();

    /**
     * @param aliases names a request may give as {@code model} besides the served checkpoint's id (a run's name)
     * @param apiKey  the bearer key every request must carry, or null for none
     */
    public OpenAiServer(InetSocketAddress address, ModelSlot models, RequestBatcher batcher, List<String> aliases,
                        String apiKey, PrometheusMeterRegistry metrics, Clock clock) throws IOException {
        this(address, models, batcher, aliases, apiKey, metrics, clock, ServingLimits.DEFAULT.withAdapterLoading());
    }

    /** @param limits what one request may ask; see {@link ServingLimits} */
    public OpenAiServer(InetSocketAddress address, ModelSlot models, RequestBatcher batcher, List<String> aliases,
                        String apiKey, PrometheusMeterRegistry metrics, Clock clock, ServingLimits limits) throws IOException {
        this.limits = limits;
        models.maxAdapters(limits.maxLoras());
        this.models = models;
        this.batcher = batcher;
        this.aliases = aliases;
        this.apiKey = apiKey;
        this.metrics = metrics;
        this.clock = clock;
        HttpServerLimits.apply();
        this.http = HttpServer.create(address, 64);
        http.setExecutor(threads);
        http.createContext("/", this::handle);
        http.start();
    }

    public int port() {
        return http.getAddress().getPort();
    }

    private void handle(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        try {
            authorize(ex); // every endpoint: the metrics name the models and their traffic
            if (path.equals("/metrics")) {
                send(ex, 200, "text/plain; version=0.0.4", metrics.scrape());
                return;
            }
            switch (ex.getRequestMethod() + " " + path) {
                case "GET /v1/models" -> sendJson(ex, 200, models());
                case "POST /v1/completions" -> complete(ex, body(ex), false);
                case "POST /v1/chat/completions" -> complete(ex, body(ex), true);
                case "POST /v1/load_lora_adapter" -> loadAdapter(ex, adapterBody(ex));
                case "POST /v1/unload_lora_adapter" -> unloadAdapter(ex, adapterBody(ex));
                default -> throw new ApiError(404, "invalid_request_error", "unknown_url", null,
                        "Unknown request URL: " + ex.getRequestMethod() + " " + path);
            }
        } catch (ApiError e) {
            metrics.counter("spin.serve.errors", "status", Integer.toString(e.status)).increment();
            ObjectNode error = JSON.createObjectNode();
            ObjectNode inner = error.putObject("error");
            inner.put("message", e.getMessage());
            inner.put("type", e.type);
            inner.put("param", e.param);
            inner.put("code", e.code);
            sendJson(ex, e.status, error);
        } finally {
            ex.close();
        }
    }

    private void authorize(HttpExchange ex) {
        if (apiKey == null) {
            return;
        }
        String header = ex.getRequestHeaders().getFirst("Authorization");
        if (header == null || !header.equals("Bearer " + apiKey)) {
            throw new ApiError(401, "invalid_request_error", "invalid_api_key", null, "Incorrect API key provided.");
        }
    }

    /** Adapter loading holds a model's worth of memory a call: served only where the operator allows it. */
    private JsonNode adapterBody(HttpExchange ex) throws IOException {
        if (!limits.allowAdapterLoading()) {
            throw new ApiError(403, "invalid_request_error", "adapter_loading_disabled", null,
                    "Loading and unloading LoRA adapters is disabled on this server (spin serve --allow-adapter-loading).");
        }
        return body(ex);
    }

    /** The body as a JSON object: at most --max-body bytes read (a 413 beyond), strict UTF-8. */
    private JsonNode body(HttpExchange ex) throws IOException {
        String declared = ex.getRequestHeaders().getFirst("Content-Length");
        if (declared != null && declared.matches("\\d{1,18}") && Long.parseLong(declared) > limits.maxBodyBytes()) {
            throw tooLarge(Long.parseLong(declared));
        }
        byte[] bytes = ex.getRequestBody().readNBytes((int) Math.min(Integer.MAX_VALUE - 8, limits.maxBodyBytes() + 1));
        if (bytes.length > limits.maxBodyBytes()) {
            throw tooLarge(-1);
        }
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes));
        } catch (CharacterCodingException e) {
            throw ApiError.invalid(null, "The request body is not valid UTF-8.");
        }
        try {
            JsonNode node = JSON.readTree(bytes);
            if (node == null || !node.isObject()) {
                throw ApiError.invalid(null, "The request body must be a JSON object.");
            }
            return node;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw ApiError.invalid(null, "We could not parse the JSON body of your request: " + e.getOriginalMessage());
        }
    }

    private ApiError tooLarge(long declared) {
        return new ApiError(413, "invalid_request_error", "request_too_large", null, "The request body is "
                + (declared >= 0 ? declared + " bytes" : "larger than that") + "; this server takes at most "
                + limits.maxBodyBytes() + " bytes (spin serve --max-body).");
    }

    private ObjectNode models() {
        ObjectNode out = JSON.createObjectNode();
        out.put("object", "list");
        ArrayNode data = out.putArray("data");
        List<String> names = new ArrayList<>(models.names());
        names.addAll(aliases);
        for (String name : names) {
            ObjectNode m = data.addObject();
            m.put("id", name);
            m.put("object", "model");
            m.put("created", clock.instant().getEpochSecond());
            m.put("owned_by", "spinstream");
        }
        return out;
    }

    /**
     * vLLM's runtime adapter loading: {@code {"lora_name", "lora_path"}}, the path a checkpoint folder of the store
     * (a LoRA adapter is served merged over its lineage); the adapter is then a model of its own name.
     */
    private void loadAdapter(HttpExchange ex, JsonNode req) throws IOException {
        String name = requiredText(req, "lora_name");
        String path = requiredText(req, "lora_path");
        boolean added;
        try {
            added = models.loadAdapter(name, path);
        } catch (RuntimeException e) {
            throw ApiError.invalid("lora_path", "Cannot load '" + name + "' from " + path + ": " + e.getMessage());
        }
        if (!added) {
            throw ApiError.invalid("lora_name", "The lora adapter '" + name + "' has already been loaded.");
        }
        send(ex, 200, "text/plain", "Success: LoRA adapter '" + name + "' added successfully.");
    }

    private void unloadAdapter(HttpExchange ex, JsonNode req) throws IOException {
        String name = requiredText(req, "lora_name");
        if (!models.unloadAdapter(name)) {
            throw new ApiError(404, "invalid_request_error", "model_not_found", "lora_name",
                    "The lora adapter '" + name + "' cannot be found.");
        }
        send(ex, 200, "text/plain", "Success: LoRA adapter '" + name + "' removed successfully.");
    }

    private void complete(HttpExchange ex, JsonNode req, boolean chat) throws IOException {
        String name = requiredText(req, "model");
        boolean followsRun = aliases.contains(name);
        LoadedModel opponent = followsRun ? models.current() : models.named(name).orElseThrow(() -> modelNotFound(name));
        List<int[]> prompts;
        try {
            prompts = chat ? List.of(opponent.tokenizer().encodePrompt(messages(req))) : promptTokens(req, opponent);
        } catch (ChatTemplate.Refusal e) { // the template's raise_exception: this conversation is the client's to fix
            throw ApiError.invalid("messages", e.getMessage());
        }
        int context = opponent.checkpoint().model().config().maxPositions();
        boolean scoreOnly = !chat && req.path("echo").asBoolean(false) && req.path("max_tokens").isIntegralNumber()
                && req.get("max_tokens").asInt() == 0; // echo with max_tokens 0: the prompt's log-probs alone
        int longest = prompts.stream().mapToInt(p -> p.length).max().orElse(0);
        int maxTokens = scoreOnly ? 0 : req.has("max_completion_tokens") ? positive(req, "max_completion_tokens")
                : req.has("max_tokens") ? positive(req, "max_tokens") : (chat ? context - longest : 16);
        if (prompts.size() > limits.maxPrompts()) {
            throw ApiError.invalid("prompt", "This request has " + prompts.size() + " prompts; this server takes at most "
                    + limits.maxPrompts() + " a request (spin serve --max-prompts).");
        }
        for (int[] prompt : prompts) {
            if ((long) prompt.length + maxTokens > context || prompt.length < 1) {
                throw new ApiError(400, "invalid_request_error", "context_length_exceeded", "messages",
                        "This model's maximum context length is " + context + " tokens. However, you requested "
                                + (prompt.length + maxTokens) + " tokens (" + prompt.length + " in the prompt, " + maxTokens
                                + " for the completion).");
            }
        }
        float temperature = (float) number(req, "temperature", 1.0, 0, 2);
        float topP = (float) number(req, "top_p", 1.0, Double.MIN_VALUE, 1);
        int n = req.has("n") ? positive(req, "n") : 1;
        if (n > limits.maxN()) {
            throw ApiError.invalid("n", "'n' is " + n + "; this server samples at most " + limits.maxN()
                    + " answers a prompt (spin serve --max-n).");
        }
        long budget = 0;
        for (int[] prompt : prompts) {
            budget += (long) n * (prompt.length + maxTokens);
        }
        if (budget > limits.maxRequestTokens()) {
            throw ApiError.invalid(null, "This request asks for " + budget + " tokens (prompts × n × (prompt + max_tokens));"
                    + " this server takes at most " + limits.maxRequestTokens() + " a request (spin serve --max-request-tokens).");
        }
        if (batcher.queued() + (long) prompts.size() * n > limits.maxQueued()) {
            throw new ApiError(429, "requests", "rate_limit_exceeded", null, "The server has " + batcher.queued()
                    + " answers waiting; try again shortly.");
        }
        JsonNode seedNode = req.get("seed");
        if (seedNode != null && !seedNode.isNull() && !(seedNode.isIntegralNumber() && seedNode.canConvertToLong())) {
            throw ApiError.invalid("seed", "'seed' must be a whole number, got " + seedNode);
        }
        long seed = seedNode != null && !seedNode.isNull() ? seedNode.asLong() : seeds.nextLong();
        List<String> stop = stops(req);
        boolean stream = req.path("stream").asBoolean(false);
        // Completions: logprobs = k (0..20) and echo; chat: logprobs = true with top_logprobs = k.
        int topLogprobs = -1;
        if (chat && req.path("logprobs").asBoolean(false)) {
            topLogprobs = req.has("top_logprobs") ? count(req, "top_logprobs", 20) : 0;
        } else if (chat && req.has("top_logprobs") && !req.get("top_logprobs").isNull()) {
            throw ApiError.invalid("top_logprobs", "'top_logprobs' needs 'logprobs' set to true.");
        } else if (!chat && req.has("logprobs") && !req.get("logprobs").isNull()) {
            topLogprobs = count(req, "logprobs", 20);
        }
        boolean echo = !chat && req.path("echo").asBoolean(false);
        String id = (chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", "");
        long created = clock.instant().getEpochSecond();
        metrics.counter("spin.serve.requests", "endpoint", chat ? "chat" : "completions").increment();

        Sse sse = stream ? new Sse(ex, limits.streamBufferEvents()) : null;
        List<CompletableFuture<RequestBatcher.Result>> results = new ArrayList<>();
        // Choice p * n + i: prompt p's answer i (OpenAI's order for a list of prompts).
        for (int p = 0; p < prompts.size(); p++) {
            for (int i = 0; i < n; i++) {
                int index = p * n + i;
                int[] offset = {0}; // where this choice's next streamed token starts in its text
                boolean withLogprobs = topLogprobs >= 0;
                RequestBatcher.TokenSink sink = !stream ? RequestBatcher.TokenSink.NONE
                        : (delta, toks) -> {
                    JsonNode lp = !withLogprobs ? null : chat ? chatLogprobs(opponent, toks)
                            : completionLogprobs(opponent, new int[0], null, toks, offset);
                    sse.offer(chunk(chat, id, created, opponent.id(), index, delta, lp, null)); // never blocks the model
                };
                CompletableFuture<RequestBatcher.Result> done = new CompletableFuture<>();
                // Each choice its own seed, so that n answers differ; seed + i reproduces choice i.
                batcher.submit(new RequestBatcher.Job(opponent, followsRun, prompts.get(p), temperature, topP, maxTokens, seed + i,
                        stop, topLogprobs, echo, sink, done));
                results.add(done);
            }
        }
        if (sse != null) {
            try {
                sse.pump(() -> results.stream().allMatch(CompletableFuture::isDone)); // this request's thread writes
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ApiError(503, "server_error", null, null, "The server is stopping.");
            }
        }
        List<RequestBatcher.Result> answers = new ArrayList<>();
        for (CompletableFuture<RequestBatcher.Result> f : results) {
            try {
                answers.add(f.get());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ApiError(503, "server_error", null, null, "The server is stopping.");
            } catch (ExecutionException e) {
                if (e.getCause() instanceof RequestBatcher.ModelGone gone) {
                    throw new ApiError(404, "invalid_request_error", "model_not_found", "model", gone.getMessage());
                }
                throw new ApiError(500, "server_error", null, null, "The model failed: " + e.getCause());
            }
        }
        Counter tokens = metrics.counter("spin.serve.tokens.generated");
        answers.forEach(a -> tokens.increment(a.completionTokens()));
        String answeredBy = answers.get(0).model();
        if (stream) {
            for (int i = 0; i < answers.size(); i++) {
                sse.write(chunk(chat, id, created, answeredBy, i, null, null, answers.get(i).finishReason()));
            }
            sse.done();
            return;
        }
        ObjectNode out = JSON.createObjectNode();
        out.put("id", id);
        out.put("object", chat ? "chat.completion" : "text_completion");
        out.put("created", created);
        out.put("model", answeredBy);
        ArrayNode choices = out.putArray("choices");
        int completionTokens = 0;
        int promptTokens = 0;
        for (int i = 0; i < answers.size(); i++) {
            RequestBatcher.Result a = answers.get(i);
            int[] prompt = prompts.get(i / n);
            completionTokens += a.completionTokens();
            if (i % n == 0) {
                promptTokens += prompt.length;
            }
            ObjectNode c = choices.addObject();
            c.put("index", i);
            if (chat) {
                ObjectNode m = c.putObject("message");
                m.put("role", "assistant");
                m.put("content", a.text());
                m.putNull("refusal");
            } else {
                c.put("text", echo ? opponent.tokenizer().decode(prompt) + a.text() : a.text());
            }
            if (topLogprobs < 0) {
                c.putNull("logprobs");
            } else if (chat) {
                c.set("logprobs", chatLogprobs(opponent, a.tokens()));
            } else {
                c.set("logprobs", completionLogprobs(opponent, echo ? prompt : new int[0], a.prompt(), a.tokens(), new int[]{0}));
            }
            c.put("finish_reason", a.finishReason());
        }
        ObjectNode usage = out.putObject("usage");
        usage.put("prompt_tokens", promptTokens);
        usage.put("completion_tokens", completionTokens);
        usage.put("total_tokens", promptTokens + completionTokens);
        sendJson(ex, 200, out);
    }

    private ApiError modelNotFound(String name) {
        return new ApiError(404, "invalid_request_error", "model_not_found", "model",
                "The model '" + name + "' does not exist; this server serves " + String.join(", ", models.names())
                        + (aliases.isEmpty() ? "" : " (the first also as " + String.join(", ", aliases) + ")"));
    }

    private static String piece(LoadedModel opponent, int token) {
        return opponent.tokenizer().decode(new int[]{token});
    }

    /** Chat's shape: {@code content} with each token, its log-prob, its bytes and its top alternatives. */
    private static ObjectNode chatLogprobs(LoadedModel opponent, List<RequestBatcher.TokenLogProb> tokenLogprobs) {
        ObjectNode out = JSON.createObjectNode();
        ArrayNode content = out.putArray("content");
        for (RequestBatcher.TokenLogProb t : tokenLogprobs) {
            ObjectNode e = content.addObject();
            tokenEntry(e, piece(opponent, t.token()), t.logprob());
            ArrayNode top = e.putArray("top_logprobs");
            t.top().forEach(alt -> tokenEntry(top.addObject(), piece(opponent, alt.token()), alt.logprob()));
        }
        out.putNull("refusal");
        return out;
    }

    private static void tokenEntry(ObjectNode e, String token, double logprob) {
        e.put("token", token);
        e.put("logprob", logprob);
        ArrayNode bytes = e.putArray("bytes");
        for (byte b : token.getBytes(StandardCharsets.UTF_8)) {
            bytes.add(b & 0xff);
        }
    }

    /**
     * The completions API's shape: parallel lists of tokens, their log-probs, the top alternatives and text
     * offsets; with echo the prompt's tokens come first (the very first without a log-prob: null).
     */
    private static ObjectNode completionLogprobs(LoadedModel opponent, int[] echoed, RequestBatcher.PromptScores prompt,
                                                 List<RequestBatcher.TokenLogProb> answer, int[] textOffset) {
        ObjectNode out = JSON.createObjectNode();
        ArrayNode tokens = out.putArray("tokens");
        ArrayNode logprobs = out.putArray("token_logprobs");
        ArrayNode tops = out.putArray("top_logprobs");
        ArrayNode offsets = out.putArray("text_offset");
        int offset = textOffset[0];
        for (int i = 0; i < echoed.length; i++) {
            String piece = piece(opponent, echoed[i]);
            tokens.add(piece);
            double lp = prompt.logprobs()[i];
            if (Double.isNaN(lp)) {
                logprobs.addNull();
                tops.addNull();
            } else {
                logprobs.add(lp);
                // The k likeliest there, and the prompt's own token beside them (as vLLM gives it).
                ObjectNode top = tops.addObject();
                prompt.top().get(i).forEach(alt -> top.put(piece(opponent, alt.token()), alt.logprob()));
                top.put(piece, lp);
            }
            offsets.add(offset);
            offset += piece.length();
        }
        for (RequestBatcher.TokenLogProb t : answer) {
            String piece = piece(opponent, t.token());
            tokens.add(piece);
            logprobs.add(t.logprob());
            ObjectNode top = tops.addObject();
            t.top().forEach(alt -> top.put(piece(opponent, alt.token()), alt.logprob()));
            offsets.add(offset);
            offset += piece.length();
        }
        textOffset[0] = offset;
        return out;
    }

    private static ObjectNode chunk(boolean chat, String id, long created, String model, int index, String delta, JsonNode logprobs,
                                    String finish) {
        ObjectNode out = JSON.createObjectNode();
        out.put("id", id);
        out.put("object", chat ? "chat.completion.chunk" : "text_completion");
        out.put("created", created);
        out.put("model", model);
        ObjectNode c = out.putArray("choices").addObject();
        c.put("index", index);
        if (chat) {
            ObjectNode d = c.putObject("delta");
            if (delta != null) {
                d.put("role", "assistant");
                d.put("content", delta);
            }
        } else {
            c.put("text", delta == null ? "" : delta);
        }
        if (logprobs == null) {
            c.putNull("logprobs");
        } else {
            c.set("logprobs", logprobs);
        }
        if (finish == null) {
            c.putNull("finish_reason");
        } else {
            c.put("finish_reason", finish);
        }
        return out;
    }

    private static List<ChatMessage> messages(JsonNode req) {
        JsonNode m = req.get("messages");
        if (m == null || !m.isArray() || m.isEmpty()) {
            throw ApiError.invalid("messages", "'messages' must be a non-empty array of {role, content}.");
        }
        List<ChatMessage> out = new ArrayList<>();
        for (JsonNode turn : m) {
            JsonNode content = turn.get("content");
            String text;
            if (content != null && content.isArray()) { // content parts: the text ones, joined
                StringBuilder sb = new StringBuilder();
                content.forEach(part -> sb.append(part.path("text").asText("")));
                text = sb.toString();
            } else {
                text = content == null || content.isNull() ? "" : content.asText();
            }
            String role = turn.path("role").asText("");
            if (role.equals("developer")) {
                role = "system"; // OpenAI's newer name for the system turn
            }
            try {
                out.add(new ChatMessage(role, text));
            } catch (IllegalArgumentException e) {
                throw ApiError.invalid("messages", e.getMessage());
            }
        }
        return out;
    }

    /**
     * A completion's prompts as tokens: text (a string, or an array of strings), or token ids (an array of ints, or an
     * array of such arrays), as vLLM takes them: a scorer that must score exact tokens (an answer and the EOS after
     * it) sends ids, since text re-tokenized across the prompt/answer seam can differ.
     */
    private static List<int[]> promptTokens(JsonNode req, LoadedModel opponent) {
        JsonNode p = req.get("prompt");
        if (p != null && p.isTextual()) {
            return List.of(opponent.tokenizer().encode(p.asText()));
        }
        if (p == null || !p.isArray() || p.isEmpty()) {
            throw ApiError.invalid("prompt", "'prompt' must be a string, an array of strings, an array of token ids or an"
                    + " array of such arrays.");
        }
        if (p.get(0).isNumber()) {
            return List.of(ids(p, opponent));
        }
        List<int[]> out = new ArrayList<>();
        for (JsonNode one : p) {
            if (one.isTextual()) {
                out.add(opponent.tokenizer().encode(one.asText()));
            } else if (one.isArray() && !one.isEmpty()) {
                out.add(ids(one, opponent));
            } else {
                throw ApiError.invalid("prompt", "each prompt of 'prompt' must be a string or a non-empty array of token ids, got " + one);
            }
        }
        return out;
    }

    private static int[] ids(JsonNode p, LoadedModel opponent) {
        int vocab = opponent.checkpoint().model().config().vocabSize();
        int[] ids = new int[p.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode t = p.get(i);
            if (!t.isIntegralNumber() || !t.canConvertToInt() || t.asInt() < 0 || t.asInt() >= vocab) {
                throw ApiError.invalid("prompt", "token " + i + " of 'prompt' must be an id in [0, " + vocab + "), got " + t);
            }
            ids[i] = t.asInt();
        }
        return ids;
    }

    private static List<String> stops(JsonNode req) {
        JsonNode s = req.get("stop");
        if (s == null || s.isNull()) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        if (s.isTextual()) {
            out.add(s.asText());
        } else if (s.isArray()) {
            s.forEach(x -> out.add(x.asText()));
        } else {
            throw ApiError.invalid("stop", "'stop' must be a string or an array of strings.");
        }
        if (out.size() > 4 || out.stream().anyMatch(String::isEmpty)) {
            throw ApiError.invalid("stop", "'stop' takes up to 4 non-empty sequences.");
        }
        return out;
    }

    private static String requiredText(JsonNode req, String field) {
        JsonNode v = req.get(field);
        if (v == null || !v.isTextual()) {
            throw ApiError.invalid(field, "'" + field + "' is required and must be a string.");
        }
        return v.asText();
    }

    private static int count(JsonNode req, String field, int max) {
        JsonNode v = req.get(field);
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 0 || v.asInt() > max) {
            throw ApiError.invalid(field, "'" + field + "' must be a whole number in [0, " + max + "], got " + v);
        }
        return v.asInt();
    }

    private static int positive(JsonNode req, String field) {
        JsonNode v = req.get(field);
        if (!v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() < 1) {
            throw ApiError.invalid(field, "'" + field + "' must be a whole number >= 1, got " + v);
        }
        return v.asInt();
    }

    private static double number(JsonNode req, String field, double otherwise, double min, double max) {
        JsonNode v = req.get(field);
        if (v == null || v.isNull()) {
            return otherwise;
        }
        if (!v.isNumber() || v.asDouble() < min || v.asDouble() > max) {
            throw ApiError.invalid(field, "'" + field + "' must be a number in [" + (min == Double.MIN_VALUE ? "0 (excluded)" : min)
                    + ", " + max + "], got " + v);
        }
        return v.asDouble();
    }

    private static void sendJson(HttpExchange ex, int status, JsonNode body) throws IOException {
        send(ex, status, "application/json", JSON.writeValueAsString(body));
    }

    private static void send(HttpExchange ex, int status, String type, String body) throws IOException {
        io.spinstream.runtime.health.MetricsServer.reply(ex, status, body, type);
    }

    /** A server-sent event stream: one {@code data:} line per chunk, {@code data: [DONE]} at the end. */
    /**
     * A streamed response. The model's thread only offers events to a bounded buffer ({@link #offer}: never blocks);
     * the request's own thread writes them ({@link #pump}). A client that falls behind by the whole buffer (it stopped
     * reading) is dropped: its events are discarded from then on and its connection closed at the end; nobody waits
     * for it.
     */
    private static final class Sse {
        private final OutputStream out;
        private final BlockingQueue<String> buffered;
        private volatile boolean dropped;
        private boolean gone; // the request's thread's: a write failed

        Sse(HttpExchange ex, int capacity) throws IOException {
            ex.getResponseHeaders().set("Content-Type", "text/event-stream");
            ex.getResponseHeaders().set("Cache-Control", "no-cache");
            ex.sendResponseHeaders(200, 0); // chunked
            this.out = ex.getResponseBody();
            this.buffered = new ArrayBlockingQueue<>(capacity);
        }

        /** On the model's thread. */
        void offer(JsonNode chunk) {
            if (!dropped && !buffered.offer("data: " + chunk + "\n\n")) {
                dropped = true;
                buffered.clear();
            }
        }

        /** On the request's thread: writes what is offered until {@code finished} holds and nothing is left. */
        void pump(BooleanSupplier finished) throws InterruptedException {
            while (true) {
                String s = buffered.poll(20, TimeUnit.MILLISECONDS);
                if (s != null) {
                    send(s);
                } else if (finished.getAsBoolean() && buffered.isEmpty()) {
                    return;
                }
            }
        }

        /** On the request's thread. */
        void write(JsonNode chunk) {
            send("data: " + chunk + "\n\n");
        }

        void done() {
            send("data: [DONE]\n\n");
        }

        private void send(String s) {
            if (gone || dropped) {
                return;
            }
            try {
                out.write(s.getBytes(StandardCharsets.UTF_8));
                out.flush();
            } catch (IOException e) {
                gone = true;
            }
        }
    }

    @Override
    public void close() {
        http.stop(1);
        threads.shutdownNow();
    }
}
