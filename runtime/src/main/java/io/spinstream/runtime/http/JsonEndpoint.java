package io.spinstream.runtime.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spinstream.runtime.Backoff;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * A JSON-over-HTTP peer (a reward model, an OpenAI-compatible server). A time-out, a refused connection, 408,
 * 429 or 5xx is tried again with back-off, {@code attempts} times in all, and then thrown as {@link Unavailable}
 * (transient: the caller waits and reads its input again, nothing is dead-lettered). Any other answer comes back
 * as a {@link Reply} for the caller to judge, since only it knows which statuses are the input's fault.
 */
public final class JsonEndpoint {
    static final ObjectMapper JSON = new ObjectMapper();

    /** The peer could not be reached or was overloaded; trying later may succeed. */
    public static final class Unavailable extends RuntimeException {
        public Unavailable(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The peer answered, but not with what this input needs; trying again will not help. */
    public static final class Refused extends RuntimeException {
        public Refused(String message) {
            super(message);
        }
    }

    /** A status outside 408, 429 and 5xx, with its body (raw, and as JSON where it parses; else null). */
    public record Reply(int status, String body, JsonNode json) {
        public boolean ok() {
            return status / 100 == 2;
        }

        /** The body shortened for an error message. */
        public String excerpt() {
            return body == null ? "" : body.length() <= 300 ? body : body.substring(0, 300) + "...";
        }
    }

    private final String what;
    private final Duration timeout;
    private final int attempts;
    private final Optional<String> bearerToken;
    private final Supplier<Backoff> backoff;
    private final HttpClient client;

    /**
     * @param what        how errors name the peer ("reward model http://...")
     * @param bearerToken sent as {@code Authorization: Bearer ...} when present (from the environment, never a file)
     */
    public JsonEndpoint(String what, Duration timeout, int attempts, Optional<String> bearerToken, Supplier<Backoff> backoff) {
        if (attempts < 1) {
            throw new IllegalArgumentException("attempts must be >= 1");
        }
        this.what = what;
        this.timeout = timeout;
        this.attempts = attempts;
        this.bearerToken = bearerToken;
        this.backoff = backoff;
        this.client = HttpClient.newBuilder().connectTimeout(timeout).build();
    }

    public Reply post(URI url, JsonNode body) {
        return send(HttpRequest.newBuilder(url).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())));
    }

    public Reply get(URI url) {
        return send(HttpRequest.newBuilder(url).GET());
    }

    private Reply send(HttpRequest.Builder request) {
        request.timeout(timeout);
        bearerToken.ifPresent(t -> request.header("Authorization", "Bearer " + t));
        HttpRequest built = request.build();
        Backoff pauses = backoff.get();
        Unavailable last = null;
        for (int attempt = 1; attempt <= attempts; attempt++) {
            try {
                HttpResponse<String> response = client.send(built, HttpResponse.BodyHandlers.ofString());
                int status = response.statusCode();
                if (status != 408 && status != 429 && status < 500) {
                    return new Reply(status, response.body(), parse(response.body()));
                }
                last = new Unavailable(what + " answered HTTP " + status + " to " + built.uri().getPath(), null);
            } catch (IOException e) {
                last = new Unavailable(what + " unreachable: " + e, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Unavailable("interrupted while asking " + what, e);
            }
            if (attempt < attempts) {
                try {
                    pauses.pause();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new Unavailable("interrupted while waiting for " + what, e);
                }
            }
        }
        throw new Unavailable(last.getMessage() + " (" + attempts + " attempts)", last.getCause());
    }

    private static JsonNode parse(String body) {
        try {
            return body == null || body.isBlank() ? null : JSON.readTree(body);
        } catch (IOException e) {
            return null;
        }
    }
}
