package io.spinstream.runtime.reward;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spinstream.runtime.Backoff;

import io.spinstream.runtime.http.JsonEndpoint;
import io.spinstream.runtime.http.JsonEndpoint.Refused;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * A reward model or judge served elsewhere, by a small JSON contract:
 * <pre>
 * POST url   {"prompt_id": "...", "prompt": "...", "responses": ["...", "..."]}
 * 200        {"scores": [0.7, -1.2]}          one finite number per response, in order
 * </pre>
 * A time-out, a refused connection, 408, 429 or 5xx is tried again with back-off, {@code attempts} times in
 * all, and then reported as {@link JsonEndpoint.Unavailable} (transient: the caller waits and reads again, nothing is
 * dead-lettered). Any other status, or a body that breaks the contract, is {@link Refused} with the reason
 * (permanent: the record goes to the dead letters).
 */
public final class HttpRewardModel {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI url;
    private final JsonEndpoint endpoint;

    /**
     * @param bearerToken sent as {@code Authorization: Bearer ...} when present (from the environment, never a file)
     */
    public HttpRewardModel(URI url, Duration timeout, int attempts, Optional<String> bearerToken,
                           java.util.function.Supplier<Backoff> backoff) {
        this.url = url;
        this.endpoint = new JsonEndpoint("reward model " + url, timeout, attempts, bearerToken, backoff);
    }

    public URI url() {
        return url;
    }

    public double[] score(String promptId, String prompt, List<String> responses) {
        ObjectNode body = JSON.createObjectNode().put("prompt_id", promptId).put("prompt", prompt);
        responses.forEach(body.putArray("responses")::add);
        JsonEndpoint.Reply reply = endpoint.post(url, body);
        if (reply.status() != 200) {
            throw new Refused("reward model " + url + " answered HTTP " + reply.status() + ": " + reply.excerpt());
        }
        return scores(reply, responses.size());
    }

    private double[] scores(JsonEndpoint.Reply reply, int expected) {
        JsonNode n = reply.json();
        if (n == null) {
            throw new Refused("reward model " + url + " answered with a body that is not JSON: " + reply.excerpt());
        }
        JsonNode scores = n.get("scores");
        if (scores == null || !scores.isArray()) {
            throw new Refused("reward model " + url + " answered without a \"scores\" array: " + reply.excerpt());
        }
        if (scores.size() != expected) {
            throw new Refused("reward model " + url + " gave " + scores.size() + " scores for " + expected + " responses");
        }
        double[] out = new double[expected];
        for (int i = 0; i < expected; i++) {
            JsonNode s = scores.get(i);
            if (!s.isNumber() || !Double.isFinite(s.asDouble())) {
                throw new Refused("reward model " + url + ": score " + i + " is not a finite number: " + s);
            }
            out[i] = s.asDouble();
        }
        return out;
    }
}
