package io.spinstream.schemas;

import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.RegistryProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A registry that asks for basic auth and serves TLS with a certificate the JVM does not trust (a real
 * Apicurio Registry, configured so): the serdes and the registrar reach it with the credentials and the
 * trust store of a {@link RegistryAccess}, and are refused without them.
 */
@BrokerTest
class RegistryAccessTest {
    @TempDir
    static Path dir;
    private static RegistryProcess registry;
    private static String https;
    private static Path trustStore;

    @BeforeAll
    static void start() throws Exception {
        Path serverStore = dir.resolve("server.p12");
        Path cert = dir.resolve("server.pem");
        trustStore = dir.resolve("trust.p12");
        keytool("-genkeypair", "-alias", "registry", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
                "-dname", "CN=127.0.0.1", "-ext", "SAN=IP:127.0.0.1", "-keystore", serverStore.toString(),
                "-storetype", "PKCS12", "-storepass", "server-pw");
        keytool("-exportcert", "-rfc", "-alias", "registry", "-keystore", serverStore.toString(), "-storepass", "server-pw",
                "-file", cert.toString());
        keytool("-importcert", "-noprompt", "-alias", "registry", "-file", cert.toString(), "-keystore", trustStore.toString(),
                "-storetype", "PKCS12", "-storepass", "trust-pw");
        int tlsPort;
        try (ServerSocket s = new ServerSocket(0)) {
            tlsPort = s.getLocalPort();
        }
        registry = RegistryProcess.startWith(Map.of(
                "quarkus.http.ssl-port", Integer.toString(tlsPort),
                "quarkus.http.ssl.certificate.key-store-file", serverStore.toString(),
                "quarkus.http.ssl.certificate.key-store-password", "server-pw",
                "quarkus.http.auth.basic", "true",
                "quarkus.security.users.embedded.enabled", "true",
                "quarkus.security.users.embedded.plain-text", "true",
                "quarkus.security.users.embedded.users.alice", "s3cret",
                "quarkus.http.auth.permission.apis.paths", "/apis/*",
                "quarkus.http.auth.permission.apis.policy", "authenticated"));
        https = "https://127.0.0.1:" + tlsPort + "/apis/ccompat/v7";
    }

    @AfterAll
    static void stop() {
        if (registry != null) {
            registry.close();
        }
    }

    private static void keytool(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(out).isZero();
    }

    private static RegistryAccess access(String password) {
        return new RegistryAccess(https, Optional.of(new RegistryAccess.BasicAuth("alice", password)),
                Optional.of(new RegistryAccess.TrustStore(trustStore, "trust-pw", "PKCS12")));
    }

    private static Prompt prompt() {
        return Prompt.newBuilder().setPromptId("p-1").setStream("s").setPrompt("12+30=").setHumanResponse("42")
                .setTask(TaskMetadata.newBuilder().setKind("addition").setVerifiable(true).build())
                .setCreatedAt(Instant.ofEpochMilli(1_700_000_000_000L)).build();
    }

    @Test
    void credentialsAndTheTrustStoreReachTheRegistryOverTls() {
        RegistryAccess access = access("s3cret");
        Topics topics = new Topics("auth", Topics.Layout.LOCAL, new AvroSerdes(access));
        Topic<String, Prompt> topic = topics.prompts("s");
        int id = new SchemaRegistrar(access).register(topic);
        assertThat(id).isPositive();
        assertThat(new SchemaRegistrar(access).schemaById(id)).isEqualTo(Prompt.getClassSchema());
        byte[] wire = topic.serializeValue(prompt());
        assertThat(new Topics("auth", Topics.Layout.LOCAL, new AvroSerdes(access)).prompts("s").deserializeValue(wire))
                .isEqualTo(prompt());
        assertThat(access.toString()).doesNotContain("s3cret").doesNotContain("trust-pw");
    }

    @Test
    void aWrongPasswordOrAnUntrustedCertificateIsRefused() {
        assertThatThrownBy(() -> new SchemaRegistrar(access("wrong")).compatibility("auth.prompts.s-value"))
                .hasMessageContaining("HTTP 401");
        // The serdes: the registry refused the credentials, which says nothing about the record: transient.
        assertThatThrownBy(() -> new Topics("auth2", Topics.Layout.LOCAL, new AvroSerdes(access("wrong")))
                .prompts("s").serializeValue(prompt()))
                .isInstanceOf(RegistryUnavailableException.class).hasMessageContaining("401");
        RegistryAccess noTrust = new RegistryAccess(https, Optional.of(new RegistryAccess.BasicAuth("alice", "s3cret")),
                Optional.empty());
        assertThatThrownBy(() -> new SchemaRegistrar(noTrust).compatibility("auth.prompts.s-value"))
                .hasStackTraceContaining("SSL");
    }
}
