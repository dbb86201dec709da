package io.spinstream.runtime.reward;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spinstream.runtime.Backoff;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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
 * all, and then reported as {@link Unavailable} (transient: the caller waits and reads again, nothing is
 * dead-lettered). Any other status, or a body that breaks the contract, is {@link Refused} with the reason
 * (permanent: the record goes to the dead letters).
 */
public final class HttpRewardModel {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The reward model could not be reached; trying later may succeed. */
    public static final class Unavailable extends RuntimeException {
        public Unavailable(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The reward model answered, but not with scores for these responses; trying again will not help. */
    public static final class Refused extends RuntimeException {
        public Refused(String message) {
            super(message);
        }
    }

    private final URI url;
    private final Duration timeout;
    private final int attempts;
    private final Optional<String> bearerToken;
    private final HttpClient client;
    private final java.util.function.Supplier<Backoff> backoff;

    /**
     * @param bearerToken sent as {@code Authorization: Bearer ...} when present (from the environment, never a file)
     */
    public HttpRewardModel(URI url, Duration timeout, int attempts, Optional<String> bearerToken,
                           java.util.function.Supplier<Backoff> backoff) {
        if (attempts < 1) {
            throw new IllegalArgumentException("attempts must be >= 1");
        }
        this.url = url;
        this.timeout = timeout;
        this.attempts = attempts;
        this.bearerToken = bearerToken;
        this.backoff = backoff;
        this.client = HttpClient.newBuilder().connectTimeout(timeout).build();
    }

    public URI url() {
        return url;
    }

    public double[] score(String promptId, String prompt, List<String> responses) {
        ObjectNode body = JSON.createObjectNode().put("prompt_id", promptId).put("prompt", prompt);
        responses.forEach(body.putArray("responses")::add);
        HttpRequest.Builder request = HttpRequest.newBuilder(url).timeout(timeout).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()));
        bearerToken.ifPresent(t -> request.header("Authorization", "Bearer " + t));
        Backoff pauses = backoff.get();
        RuntimeException last = null;
        for (int attempt = 1; attempt <= attempts; attempt++) {
            try {
                HttpResponse<String> response = client.send(request.build(), HttpResponse.BodyHandlers.ofString());
                int status = response.statusCode();
                if (status == 200) {
                    return scores(response.body(), responses.size());
                }
                if (status != 408 && status != 429 && status < 500) {
                    throw new Refused("reward model " + url + " answered HTTP " + status + ": " + abbreviate(response.body()));
                }
                last = new Unavailable("reward model " + url + " answered HTTP " + status, null);
            } catch (IOException e) {
                last = new Unavailable("reward model " + url + " unreachable: " + e, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Unavailable("interrupted while asking the reward model " + url, e);
            }
            if (attempt < attempts) {
                try {
                    pauses.pause();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new Unavailable("interrupted while waiting for the reward model " + url, e);
                }
            }
        }
        throw new Unavailable(last.getMessage() + " (" + attempts + " attempts)", last.getCause());
    }

    private double[] scores(String body, int expected) {
        JsonNode n;
        try {
            n = JSON.readTree(body);
        } catch (IOException e) {
            throw new Refused("reward model " + url + " answered with a body that is not JSON: " + abbreviate(body));
        }
        JsonNode scores = n == null ? null : n.get("scores");
        if (scores == null || !scores.isArray()) {
            throw new Refused("reward model " + url + " answered without a \"scores\" array: " + abbreviate(body));
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

    private static String abbreviate(String s) {
        return s == null ? "" : s.length() <= 200 ? s : s.substring(0, 200) + "...";
    }
}
