package io.spinstream.schemas;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.avro.Schema;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A client of the Confluent Schema Registry REST API (Confluent Platform and Cloud, Karapace, Redpanda, Apicurio's
 * {@code /apis/ccompat/v7}): register or look up a schema under a subject, fetch a schema by id, the latest version,
 * compatibility per subject. Ids and schemas are cached (subject + schema → id, id → schema), so a serde asks the
 * registry once per schema, not per record. A time-out, a refused connection, 408, 429 or 5xx is tried again with
 * back-off ({@code attempts} in all) and then thrown as {@link RegistryUnavailableException} (transient); so are
 * 401 and 403 (refused credentials say nothing about a record). 409 and 422 (a schema the subject's compatibility
 * rule refuses, or an invalid one) are {@link SchemaRegistrar.IncompatibleSchemaException} with the registry's
 * message; 404 is {@link NotFound}.
 */
public final class ConfluentRegistryClient {
    private static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The registry does not know the subject, version or id asked for. */
    public static final class NotFound extends SchemaRegistrar.RegistryException {
        public NotFound(String message) {
            super(message);
        }
    }

    /** A schema id with its schema. */
    public record Registered(int id, Schema schema) {
    }

    /** A cache key: Avro's schema equality is structural and its hash is kept, so a record's lookup costs no rendering. */
    private record SubjectSchema(String subject, Schema schema) {
    }

    private final String root;
    private final HttpClient http;
    private final Optional<String> authorization;
    private final int attempts;
    private final Duration firstPause;
    private final Map<Integer, Schema> byId = new ConcurrentHashMap<>();
    private final Map<SubjectSchema, Integer> idBySubjectAndSchema = new ConcurrentHashMap<>();
    private final Map<String, Registered> latestBySubject = new ConcurrentHashMap<>();

    public ConfluentRegistryClient(RegistryAccess access) {
        this(access, 4, Duration.ofMillis(250));
    }

    /** @param attempts tries of one call before the registry counts as unavailable; pauses double from {@code firstPause} */
    public ConfluentRegistryClient(RegistryAccess access, int attempts, Duration firstPause) {
        this.root = access.confluentRoot();
        this.http = access.httpClient();
        this.authorization = access.authorization();
        this.attempts = attempts;
        this.firstPause = firstPause;
    }

    public String root() {
        return root;
    }

    /** Registers {@code schema} under {@code subject} (the registry returns the existing id for a schema it has). */
    public int register(String subject, Schema schema) {
        SubjectSchema key = new SubjectSchema(subject, schema);
        Integer known = idBySubjectAndSchema.get(key);
        if (known != null) {
            return known;
        }
        int id = call("POST", "/subjects/" + enc(subject) + "/versions", body(schema), "register a schema under " + subject)
                .get("id").asInt();
        idBySubjectAndSchema.put(key, id);
        byId.putIfAbsent(id, schema);
        return id;
    }

    /** The id of {@code schema} under {@code subject}, where it is registered there. */
    public Optional<Integer> lookup(String subject, Schema schema) {
        SubjectSchema key = new SubjectSchema(subject, schema);
        Integer known = idBySubjectAndSchema.get(key);
        if (known != null) {
            return Optional.of(known);
        }
        try {
            int id = call("POST", "/subjects/" + enc(subject), body(schema), "look up a schema under " + subject).get("id").asInt();
            idBySubjectAndSchema.put(key, id);
            byId.putIfAbsent(id, schema);
            return Optional.of(id);
        } catch (NotFound e) {
            return Optional.empty();
        }
    }

    /** The subject's latest schema (cached for this client's life, as Confluent's serializer does by default). */
    public Registered latest(String subject) {
        return latestBySubject.computeIfAbsent(subject, s -> {
            JsonNode n = call("GET", "/subjects/" + enc(s) + "/versions/latest", null, "read the latest schema of " + s);
            Registered r = new Registered(n.get("id").asInt(), new Schema.Parser().parse(n.get("schema").asText()));
            byId.putIfAbsent(r.id(), r.schema());
            return r;
        });
    }

    /** The schema a wire-format id names. */
    public Schema schemaById(int id) {
        Schema known = byId.get(id);
        if (known != null) {
            return known;
        }
        Schema s = new Schema.Parser().parse(call("GET", "/schemas/ids/" + id, null, "look up schema id " + id).get("schema").asText());
        byId.put(id, s);
        return s;
    }

    /** Whether {@code schema} may follow the subject's latest version under its compatibility rule. */
    public boolean isCompatible(String subject, Schema schema) {
        return call("POST", "/compatibility/subjects/" + enc(subject) + "/versions/latest", body(schema),
                "test the compatibility of a schema under " + subject).path("is_compatible").asBoolean(false);
    }

    public void setCompatibility(String subject, String level) {
        call("PUT", "/config/" + enc(subject), Map.of("compatibility", level), "set compatibility of " + subject);
    }

    public String compatibility(String subject) {
        JsonNode n = call("GET", "/config/" + enc(subject), null, "read compatibility of " + subject);
        return n.hasNonNull("compatibilityLevel") ? n.get("compatibilityLevel").asText() : n.path("compatibility").asText();
    }

    private static Map<String, String> body(Schema schema) {
        return Map.of("schema", schema.toString(), "schemaType", "AVRO");
    }

    private static String enc(String subject) {
        return URLEncoder.encode(subject, StandardCharsets.UTF_8);
    }

    private JsonNode call(String method, String path, Object body, String what) {
        Duration pause = firstPause;
        RuntimeException last = null;
        for (int attempt = 1; attempt <= attempts; attempt++) {
            try {
                return once(method, path, body, what);
            } catch (RegistryUnavailableException e) {
                last = e;
                if (e.getMessage().contains("HTTP 401") || e.getMessage().contains("HTTP 403")) {
                    throw e; // credentials: no retry mends them here
                }
            }
            if (attempt < attempts) {
                try {
                    Thread.sleep(pause.toMillis());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new RegistryUnavailableException("interrupted while trying to " + what, e);
                }
                pause = pause.multipliedBy(2);
            }
        }
        throw new RegistryUnavailableException(last.getMessage() + " (" + attempts + " attempts)", last.getCause());
    }

    private JsonNode once(String method, String path, Object body, String what) {
        try {
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(root + path)).timeout(Duration.ofSeconds(30))
                    .header("Accept", CONTENT_TYPE);
            authorization.ifPresent(a -> request.header("Authorization", a));
            if (body == null) {
                request.method(method, HttpRequest.BodyPublishers.noBody());
            } else {
                request.header("Content-Type", CONTENT_TYPE).method(method, HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)));
            }
            HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
            int status = response.statusCode();
            if (status / 100 == 2) {
                return JSON.readTree(response.body());
            }
            String message = message(response.body());
            if (status == 409 || status == 422) {
                throw new SchemaRegistrar.IncompatibleSchemaException("the registry refused to " + what + ": " + message
                        + " (HTTP " + status + ")");
            }
            if (status == 404) {
                throw new NotFound("the registry at " + root + " cannot " + what + ": " + message + " (HTTP 404)");
            }
            if (status >= 500 || status == 408 || status == 429 || status == 401 || status == 403) {
                throw new RegistryUnavailableException("the registry at " + root + " answered HTTP " + status + " to "
                        + what + ": " + message, null);
            }
            throw new SchemaRegistrar.RegistryException("the registry at " + root + " failed to " + what + ": HTTP " + status + " " + message);
        } catch (IOException e) {
            throw new RegistryUnavailableException("the registry at " + root + " cannot be reached to " + what + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RegistryUnavailableException("interrupted while trying to " + what, e);
        }
    }

    private static String message(String body) {
        try {
            JsonNode node = JSON.readTree(body);
            return node != null && node.hasNonNull("message") ? node.get("message").asText() : body;
        } catch (IOException e) {
            return body;
        }
    }
}
