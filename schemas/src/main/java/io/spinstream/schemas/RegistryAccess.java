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
 * How to reach the schema registry: its URL, basic-auth credentials and a trust store for TLS. Both the
 * serdes and the {@link SchemaRegistrar} are built from it, so they authenticate and verify alike.
 */
public record RegistryAccess(String url, Optional<BasicAuth> basicAuth, Optional<TrustStore> trustStore) {

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
    }

    /** No credentials, the JVM's default trust. */
    public static RegistryAccess of(String url) {
        return new RegistryAccess(url, Optional.empty(), Optional.empty());
    }

    /** The settings of Apicurio's serdes for this access. */
    public Map<String, Object> serdeSettings() {
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
        return basicAuth.map(BasicAuth::header);
    }
}
