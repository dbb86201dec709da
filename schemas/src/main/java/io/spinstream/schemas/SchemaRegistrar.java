package io.spinstream.schemas;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.avro.Schema;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

/**
 * Registers the catalogue's value schemas through the registry's Confluent-compatible API and pins
 * each subject's compatibility to BACKWARD, so that a consumer on the new schema can always read what
 * producers on the old one wrote. An incompatible change is refused with the registry's reason.
 */
public final class SchemaRegistrar {
    public static final String COMPATIBILITY = "BACKWARD";
    private static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";

    private final String api;
    private final HttpClient http;
    private final java.util.Optional<String> authorization;
    private final ObjectMapper json = new ObjectMapper();

    /** @param registryUrl the registry's base URL; the Confluent API is under {@code /apis/ccompat/v7} */
    public SchemaRegistrar(String registryUrl) {
        this(RegistryAccess.of(registryUrl));
    }

    /** With the credentials and trust store of {@code access}. */
    public SchemaRegistrar(RegistryAccess access) {
        this.api = access.url() + "/apis/ccompat/v7";
        this.http = access.httpClient();
        this.authorization = access.authorization();
    }

    /** Sets BACKWARD on the topic's subject and registers its value schema; returns the schema id. */
    public int register(Topic<?, ?> topic) {
        return register(topic.subject(), topic.valueSchema());
    }

    public int register(String subject, Schema schema) {
        setCompatibility(subject, COMPATIBILITY);
        JsonNode reply = call("POST", "/subjects/" + subject + "/versions",
                Map.of("schema", schema.toString(), "schemaType", "AVRO"), "register a schema under " + subject);
        return reply.get("id").asInt();
    }

    public void setCompatibility(String subject, String level) {
        call("PUT", "/config/" + subject, Map.of("compatibility", level), "set compatibility of " + subject);
    }

    public String compatibility(String subject) {
        return call("GET", "/config/" + subject, null, "read compatibility of " + subject)
                .path("compatibilityLevel").asText();
    }

    /** The schema a wire-format id names, as the registry returns it. */
    public Schema schemaById(int id) {
        String text = call("GET", "/schemas/ids/" + id, null, "look up schema id " + id).get("schema").asText();
        return new Schema.Parser().parse(text);
    }

    private JsonNode call(String method, String path, Object body, String what) {
        try {
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(api + path))
                    .timeout(Duration.ofSeconds(30))
                    .header("Accept", CONTENT_TYPE);
            authorization.ifPresent(a -> request.header("Authorization", a));
            if (body == null) {
                request.method(method, HttpRequest.BodyPublishers.noBody());
            } else {
                request.header("Content-Type", CONTENT_TYPE)
                        .method(method, HttpRequest.BodyPublishers.ofString(json.writeValueAsString(body)));
            }
            HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() == 409 || response.statusCode() == 422) {
                throw new IncompatibleSchemaException("the registry refused to " + what + ": "
                        + message(response.body()) + " (HTTP " + response.statusCode() + ")");
            }
            if (response.statusCode() / 100 != 2) {
                throw new RegistryException("the registry at " + api + " failed to " + what + ": HTTP "
                        + response.statusCode() + " " + message(response.body()));
            }
            return json.readTree(response.body());
        } catch (IOException e) {
            throw new RegistryException("cannot reach the registry at " + api + " to " + what + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RegistryException("interrupted while trying to " + what, e);
        }
    }

    private String message(String body) {
        try {
            JsonNode node = json.readTree(body);
            return node.hasNonNull("message") ? node.get("message").asText() : body;
        } catch (IOException e) {
            return body;
        }
    }

    /** The registry could not be reached or answered with an error. */
    public static class RegistryException extends RuntimeException {
        public RegistryException(String message) {
            super(message);
        }

        public RegistryException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The registry refused a schema because it breaks the subject's compatibility rule. */
    public static final class IncompatibleSchemaException extends RegistryException {
        public IncompatibleSchemaException(String message) {
            super(message);
        }
    }
}
