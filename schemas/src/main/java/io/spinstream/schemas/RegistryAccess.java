package io.spinstream.schemas;

import io.apicurio.registry.resolver.config.SchemaResolverConfig;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * How to reach the schema registry: which API it speaks at its URL, credentials (basic auth or a bearer token)
 * and a trust store for TLS, and how the serializer finds a record's schema id. Both the serdes and the
 * {@link SchemaRegistrar} are built from it, so they authenticate and verify alike.
 *
 * @param url              with {@link Api#CONFLUENT}, the Confluent REST API's root (Confluent Schema Registry,
 *                         Confluent Cloud, Karapace, Redpanda; Apicurio serves it under {@code /apis/ccompat/v7});
 *                         with {@link Api#APICURIO}, Apicurio's base URL
 * @param autoRegister     Confluent's {@code auto.register.schemas}: the serializer registers a record's schema
 *                         under its subject (else it must be registered already)
 * @param useLatestVersion Confluent's {@code use.latest.version}: the serializer writes with the subject's latest
 *                         schema (with auto-register off)
 */
public record RegistryAccess(String url, Api api, Optional<BasicAuth> basicAuth, Optional<String> bearerToken,
                             Optional<TrustStore> trustStore, boolean autoRegister, boolean useLatestVersion) {

    /** The REST API the registry is spoken to with. */
    public enum Api {
        CONFLUENT, APICURIO
    }

    /** Credentials sent as HTTP basic auth; the password never appears in {@link #toString()}. */
    public record BasicAuth(String username, String password) {
        public BasicAuth {
            if (username.isBlank() || password.isEmpty()) {
                throw new IllegalArgumentException("basic auth needs a user name and a password");
            }
        }

        String header() {
            return "Basic " + Base64.getEncoder().encodeToString((username + ":" + password).getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public String toString() {
            return "BasicAuth[" + username + ", password hidden]";
        }
    }

    /** The certificates a registry's TLS certificate must chain to (JKS or PKCS12). */
    public record TrustStore(Path location, String password, String type) {
        @Override
        public String toString() {
            return "TrustStore[" + location + ", " + type + "]";
        }

        SSLContext sslContext() {
            try (InputStream in = Files.newInputStream(location)) {
                KeyStore store = KeyStore.getInstance(type);
                store.load(in, password == null ? null : password.toCharArray());
                TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(store);
                SSLContext ctx = SSLContext.getInstance("TLS");
                ctx.init(null, tmf.getTrustManagers(), null);
                return ctx;
            } catch (IOException | GeneralSecurityException e) {
                throw new IllegalArgumentException("the registry trust store " + location + " (" + type
                        + ") cannot be read: " + e.getMessage(), e);
            }
        }
    }

    public RegistryAccess {
        url = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
        if (basicAuth.isPresent() && bearerToken.isPresent()) {
            throw new IllegalArgumentException("the registry takes basic auth or a bearer token, not both");
        }
        if (useLatestVersion && autoRegister) {
            throw new IllegalArgumentException("use.latest.version needs auto.register.schemas off (as Confluent's serializer)");
        }
    }

    /** The Confluent API with the serializer's defaults (register what it writes). */
    public RegistryAccess(String url, Optional<BasicAuth> basicAuth, Optional<TrustStore> trustStore) {
        this(url, Api.CONFLUENT, basicAuth, Optional.empty(), trustStore, true, false);
    }

    /** The Confluent API at {@code url}, no credentials, the JVM's default trust. */
    public static RegistryAccess of(String url) {
        return new RegistryAccess(url, Optional.empty(), Optional.empty());
    }

    /** Apicurio's own API at its base URL {@code url}. */
    public static RegistryAccess apicurio(String url) {
        return new RegistryAccess(url, Api.APICURIO, Optional.empty(), Optional.empty(), Optional.empty(), true, false);
    }

    /** The root of the Confluent REST API: the URL itself, or Apicurio's compatibility API under it. */
    public String confluentRoot() {
        return api == Api.CONFLUENT ? url : url + "/apis/ccompat/v7";
    }

    /** This access as plain settings (for a client, such as Kafka Streams' handlers, configured by a map). */
    public Map<String, String> settings() {
        Map<String, String> m = new HashMap<>();
        m.put("url", url);
        m.put("api", api.name());
        m.put("auto.register", Boolean.toString(autoRegister));
        m.put("use.latest.version", Boolean.toString(useLatestVersion));
        basicAuth.ifPresent(b -> {
            m.put("username", b.username());
            m.put("password", b.password());
        });
        bearerToken.ifPresent(t -> m.put("bearer.token", t));
        trustStore.ifPresent(t -> {
            m.put("truststore.location", t.location().toString());
            if (t.password() != null) {
                m.put("truststore.password", t.password());
            }
            m.put("truststore.type", t.type());
        });
        return m;
    }

    /** The access {@link #settings()} describe. */
    public static RegistryAccess fromSettings(Map<String, ?> m) {
        java.util.function.Function<String, Optional<String>> get = k -> Optional.ofNullable(m.get(k)).map(Object::toString);
        return new RegistryAccess(get.apply("url").orElseThrow(() -> new IllegalArgumentException("registry settings without a url")),
                Api.valueOf(get.apply("api").orElse("CONFLUENT")),
                get.apply("username").map(u -> new BasicAuth(u, get.apply("password").orElse(""))),
                get.apply("bearer.token"),
                get.apply("truststore.location").map(l -> new TrustStore(Path.of(l), get.apply("truststore.password").orElse(null),
                        get.apply("truststore.type").orElse("PKCS12"))),
                Boolean.parseBoolean(get.apply("auto.register").orElse("true")),
                Boolean.parseBoolean(get.apply("use.latest.version").orElse("false")));
    }

    /** The settings of Apicurio's serdes for this access. */
    Map<String, Object> apicurioSerdeSettings() {
        Map<String, Object> m = new HashMap<>();
        basicAuth.ifPresent(b -> {
            m.put(SchemaResolverConfig.AUTH_USERNAME, b.username());
            m.put(SchemaResolverConfig.AUTH_PASSWORD, b.password());
        });
        trustStore.ifPresent(t -> {
            m.put(SchemaResolverConfig.TLS_TRUSTSTORE_LOCATION, t.location().toAbsolutePath().toString());
            if (t.password() != null) {
                m.put(SchemaResolverConfig.TLS_TRUSTSTORE_PASSWORD, t.password());
            }
            m.put(SchemaResolverConfig.TLS_TRUSTSTORE_TYPE, t.type());
        });
        return m;
    }

    /** An HTTP client that trusts what the trust store trusts (the JVM's defaults without one). */
    public HttpClient httpClient() {
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10));
        trustStore.ifPresent(t -> b.sslContext(t.sslContext()));
        return b.build();
    }

    /** The Authorization header to send, if any. */
    public Optional<String> authorization() {
        return basicAuth.map(BasicAuth::header).or(() -> bearerToken.map(t -> "Bearer " + t));
    }

    @Override
    public String toString() {
        return "RegistryAccess[" + url + ", " + api + ", " + basicAuth.map(Object::toString).orElse("no basic auth")
                + (bearerToken.isPresent() ? ", bearer token hidden" : "") + ", " + trustStore.map(Object::toString).orElse("default trust")
                + (autoRegister ? ", auto-register" : "") + (useLatestVersion ? ", latest version" : "") + "]";
    }
}
