package io.spinstream.runtime.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spinstream.runtime.Backoff;
import io.spinstream.runtime.http.JsonEndpoint;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The parts of an OpenAI-compatible server (vLLM, {@code spin serve}, a hosted model) Spinstream uses:
 * {@code GET /models}, {@code POST /completions} (token-id prompts, {@code n}, {@code seed}, {@code echo} with
 * {@code logprobs}), {@code POST /chat/completions}, and vLLM's {@code POST /load_lora_adapter} and
 * {@code /unload_lora_adapter}. What a status means here:
 * <ul>
 *   <li>time-outs, refused connections, 408, 429, 5xx: tried again, then {@link JsonEndpoint.Unavailable} (transient);</li>
 *   <li>404 on a completion or a chat: the server does not serve that model (yet): {@link JsonEndpoint.Unavailable} as well,
 *       since a server that follows the run swaps to it soon;</li>
 *   <li>401, 403: the key is wrong, which no retry mends: {@link IllegalStateException};</li>
 *   <li>any other 4xx: the server refuses this request: {@link JsonEndpoint.Refused} with its own message.</li>
 * </ul>
 */
public final class OpenAiClient {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One choice of a completion, by its index. */
    public record Choice(int index, String text, JsonNode logprobs) {
    }

    private final URI base;
    private final JsonEndpoint endpoint;

    /** @param base the API's root, as OpenAI clients take it ({@code http://vllm:8000/v1}) */
    public OpenAiClient(URI base, Duration timeout, int attempts, Optional<String> apiKey, Supplier<Backoff> backoff) {
        String b = base.toString();
        this.base = URI.create(b.endsWith("/") ? b : b + "/");
        this.endpoint = new JsonEndpoint("OpenAI-compatible server " + b, timeout, attempts, apiKey, backoff);
    }

    public URI base() {
        return base;
    }

    public static ObjectNode request() {
        return JSON.createObjectNode();
    }

    /** The models the server serves, by name. */
    public List<String> models() {
        JsonEndpoint.Reply reply = checked(endpoint.get(base.resolve("models")), "GET /models");
        if (!reply.ok() || reply.json() == null || !reply.json().path("data").isArray()) {
            throw new IllegalStateException(base + "models did not answer with OpenAI's model list: HTTP " + reply.status()
                    + " " + reply.excerpt());
        }
        List<String> out = new ArrayList<>();
        reply.json().get("data").forEach(m -> out.add(m.path("id").asText()));
        return out;
    }

    /** The choices of a completion, in index order. */
    public List<Choice> complete(ObjectNode request) {
        return choices(request, "completions");
    }

    /** The answer of a chat completion with one choice: its message's content. */
    public String chat(ObjectNode request) {
        List<Choice> choices = choices(request, "chat/completions");
        if (choices.isEmpty()) {
            throw new IllegalStateException(base + "chat/completions answered without a choice");
        }
        return choices.get(0).text();
    }

    private List<Choice> choices(ObjectNode request, String path) {
        JsonEndpoint.Reply reply = checked(endpoint.post(base.resolve(path), request), "POST /" + path);
        if (reply.status() == 404) {
            throw new JsonEndpoint.Unavailable(base + " does not serve model '" + request.path("model").asText() + "' (yet): "
                    + message(reply), null);
        }
        if (!reply.ok()) {
            throw new JsonEndpoint.Refused(base + path + " refused it: HTTP " + reply.status() + ": " + message(reply));
        }
        JsonNode choices = reply.json() == null ? null : reply.json().get("choices");
        if (choices == null || !choices.isArray()) {
            throw new IllegalStateException(base + path + " answered without choices: " + reply.excerpt());
        }
        String served = reply.json().path("model").asText(null);
        if (served != null && !served.equals(request.path("model").asText())) {
            // Never take an answer from another model than the opponent asked for.
            throw new JsonEndpoint.Unavailable(base + " answered a request for '" + request.path("model").asText()
                    + "' with model '" + served + "'", null);
        }
        List<Choice> out = new ArrayList<>();
        choices.forEach(c -> out.add(new Choice(c.path("index").asInt(),
                c.has("message") ? c.path("message").path("content").asText("") : c.path("text").asText(""), c.get("logprobs"))));
        out.sort(Comparator.comparingInt(Choice::index));
        return out;
    }

    /**
     * Asks the server to load a LoRA adapter folder under {@code name} (vLLM's runtime adapter loading).
     *
     * @return false where the server offers no such endpoint (the caller waits for it to serve the model otherwise)
     */
    public boolean loadLoraAdapter(String name, String path) {
        JsonEndpoint.Reply reply = checked(endpoint.post(base.resolve("load_lora_adapter"),
                JSON.createObjectNode().put("lora_name", name).put("lora_path", path)), "POST /load_lora_adapter");
        if (reply.status() == 404 || reply.status() == 405) {
            return false;
        }
        if (!reply.ok() && !message(reply).contains("already been loaded")) {
            throw new JsonEndpoint.Refused(base + " refused to load adapter '" + name + "' from " + path + ": HTTP "
                    + reply.status() + ": " + message(reply));
        }
        return true;
    }

    /** Asks the server to drop adapter {@code name}; true where it did. */
    public boolean unloadLoraAdapter(String name) {
        return checked(endpoint.post(base.resolve("unload_lora_adapter"), JSON.createObjectNode().put("lora_name", name)),
                "POST /unload_lora_adapter").ok();
    }

    private JsonEndpoint.Reply checked(JsonEndpoint.Reply reply, String what) {
        if (reply.status() == 401 || reply.status() == 403) {
            throw new IllegalStateException(base + " refused " + what + " with HTTP " + reply.status() + " (" + message(reply)
                    + "): the API key is missing or wrong");
        }
        return reply;
    }

    /** OpenAI's error message (vLLM's too), else the body. */
    private static String message(JsonEndpoint.Reply reply) {
        JsonNode m = reply.json() == null ? null : reply.json().path("error").get("message");
        if (m == null && reply.json() != null) {
            m = reply.json().get("message");
        }
        return m != null && m.isTextual() ? m.asText() : reply.excerpt();
    }
}
