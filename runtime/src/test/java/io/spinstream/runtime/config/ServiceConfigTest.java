package io.spinstream.runtime.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ServiceConfigTest {

    @Test
    void fileAndEnvironmentUseTheSameKeysAndTheEnvironmentWins(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("spin.properties"), """
                spin.bootstrap.servers=file-host:9092
                spin.registry.url=http://registry:8080/
                spin.topic.prefix=team.spin
                spin.kafka.security.protocol=SASL_SSL
                """);
        ServiceConfig config = ServiceConfig.load(CommonKeys.all(),
                Map.of("SPIN_BOOTSTRAP_SERVERS", "env-host:9093,env-host2:9093",
                        "SPIN_KAFKA_SASL_MECHANISM", "PLAIN"),
                Optional.of(file), Map.of());

        assertThat(config.get(CommonKeys.BOOTSTRAP_SERVERS)).isEqualTo("env-host:9093,env-host2:9093");
        assertThat(config.get(CommonKeys.REGISTRY_URL)).isEqualTo("http://registry:8080");
        assertThat(config.get(CommonKeys.TOPIC_PREFIX)).isEqualTo("team.spin");
        assertThat(config.get(CommonKeys.TOPIC_PARTITIONS)).isEqualTo(4);
        assertThat(config.find(CommonKeys.INSTANCE_ID)).isEmpty();
        assertThat(config.kafkaPassthrough()).containsExactlyInAnyOrderEntriesOf(Map.of(
                "security.protocol", "SASL_SSL", "sasl.mechanism", "PLAIN"));
    }

    @Test
    void everyProblemIsReportedWithItsKeyAndTheExpectedForm() {
        assertThatThrownBy(() -> ServiceConfig.load(CommonKeys.all(),
                Map.of("SPIN_REGISTRY_URL", "registry:8080", "SPIN_TOPIC_PARTITIONS", "zero"),
                Optional.empty(), Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("spin.bootstrap.servers (env SPIN_BOOTSTRAP_SERVERS) is required: expected host:port[,host:port...]")
                .hasMessageContaining("spin.registry.url (env SPIN_REGISTRY_URL): expected an http:// or https:// URL")
                .hasMessageContaining("got 'registry:8080'")
                .hasMessageContaining("spin.topic.partitions (env SPIN_TOPIC_PARTITIONS): expected a whole number >= 1, got 'zero'");
    }

    @Test
    void aMisspelledKeyInTheFileIsNamedWithASuggestion(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("spin.properties"), """
                spin.bootstrap.server=host:9092
                spin.registry.url=http://registry:8080
                """);
        assertThatThrownBy(() -> ServiceConfig.load(CommonKeys.all(), Map.of(), Optional.of(file), Map.of()))
                .hasMessageContaining("unknown key spin.bootstrap.server (did you mean spin.bootstrap.servers?)");
        assertThatThrownBy(() -> ServiceConfig.load(CommonKeys.all(), Map.of(), Optional.of(dir.resolve("missing")), Map.of()))
                .hasMessageContaining("SPIN_CONFIG_FILE: expected a readable properties file");
    }

    @Test
    void overridesWinAndBadPortsAreRefused() {
        ServiceConfig config = ServiceConfig.load(CommonKeys.all(),
                Map.of("SPIN_BOOTSTRAP_SERVERS", "a:1", "SPIN_REGISTRY_URL", "https://r"),
                Optional.empty(), Map.of("spin.bootstrap.servers", "b:2"));
        assertThat(config.get(CommonKeys.BOOTSTRAP_SERVERS)).isEqualTo("b:2");
        assertThatThrownBy(() -> ServiceConfig.load(CommonKeys.all(),
                Map.of("SPIN_BOOTSTRAP_SERVERS", "host-without-port", "SPIN_REGISTRY_URL", "https://r"),
                Optional.empty(), Map.of()))
                .hasMessageContaining("expected host:port[,host:port...], got 'host-without-port'");
    }

    @Test
    void numbersMustBeFiniteAndInTheirRange() {
        ConfigKey<Double> lr = ConfigKey.optional("spin.test.lr", ValueType.POSITIVE_NUMBER, "1e-4", "a rate");
        ConfigKey<Double> decay = ConfigKey.optional("spin.test.decay", ValueType.NON_NEGATIVE_NUMBER, "0", "a decay");
        ConfigKey<Double> factor = ConfigKey.optional("spin.test.factor", ValueType.FACTOR, "0.5", "a factor");
        ConfigKey<Double> margin = ConfigKey.optional("spin.test.margin", ValueType.NUMBER, "0", "a margin");
        java.util.List<ConfigKey<?>> keys = java.util.List.of(lr, decay, factor, margin);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ServiceConfig.load(keys, java.util.Map.of("SPIN_TEST_LR", "NaN",
                        "SPIN_TEST_DECAY", "-1", "SPIN_TEST_FACTOR", "0", "SPIN_TEST_MARGIN", "Infinity"), java.util.Optional.empty(),
                        java.util.Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("spin.test.lr (env SPIN_TEST_LR): expected a number above 0, got 'NaN'")
                .hasMessageContaining("spin.test.decay (env SPIN_TEST_DECAY): expected a number >= 0, got '-1'")
                .hasMessageContaining("spin.test.factor (env SPIN_TEST_FACTOR): expected a number above 0 and at most 1, got '0'")
                .hasMessageContaining("spin.test.margin (env SPIN_TEST_MARGIN): expected a finite decimal number, got 'Infinity'");
        ServiceConfig ok = ServiceConfig.load(keys, java.util.Map.of("SPIN_TEST_LR", "3e-5", "SPIN_TEST_FACTOR", "1"),
                java.util.Optional.empty(), java.util.Map.of());
        org.assertj.core.api.Assertions.assertThat(ok.get(lr)).isEqualTo(3e-5);
        org.assertj.core.api.Assertions.assertThat(ok.get(factor)).isEqualTo(1.0);
    }

    @Test
    void registryCredentialsComeInPairsAndTheTrustStoreMustBeAFile(@TempDir Path dir) throws Exception {
        Map<String, String> base = Map.of("SPIN_BOOTSTRAP_SERVERS", "a:1", "SPIN_REGISTRY_URL", "https://r");
        Map<String, String> userOnly = new java.util.HashMap<>(base);
        userOnly.put("SPIN_REGISTRY_USERNAME", "alice");
        ServiceConfig half = ServiceConfig.load(CommonKeys.all(), userOnly, Optional.empty(), Map.of());
        assertThatThrownBy(() -> io.spinstream.runtime.SpinContext.registryAccess(half))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("SPIN_REGISTRY_USERNAME").hasMessageContaining("SPIN_REGISTRY_PASSWORD")
                .hasMessageContaining("go together");

        Map<String, String> missingStore = new java.util.HashMap<>(base);
        missingStore.put("SPIN_REGISTRY_TRUSTSTORE_LOCATION", dir.resolve("nope.p12").toString());
        assertThatThrownBy(() -> ServiceConfig.load(CommonKeys.all(), missingStore, Optional.empty(), Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("SPIN_REGISTRY_TRUSTSTORE_LOCATION").hasMessageContaining("the path of a readable file");

        Path store = Files.writeString(dir.resolve("trust.p12"), "x");
        Map<String, String> full = new java.util.HashMap<>(base);
        full.putAll(Map.of("SPIN_REGISTRY_USERNAME", "alice", "SPIN_REGISTRY_PASSWORD", "s3cret",
                "SPIN_REGISTRY_TRUSTSTORE_LOCATION", store.toString(), "SPIN_REGISTRY_TRUSTSTORE_TYPE", "JKS"));
        var access = io.spinstream.runtime.SpinContext.registryAccess(
                ServiceConfig.load(CommonKeys.all(), full, Optional.empty(), Map.of()));
        assertThat(access.basicAuth()).map(b -> b.username()).contains("alice");
        assertThat(access.trustStore()).map(t -> t.type()).contains("JKS");
        assertThat(access.settings()).containsEntry("username", "alice").containsEntry("truststore.type", "JKS")
                .containsEntry("api", "CONFLUENT");
        assertThat(io.spinstream.schemas.RegistryAccess.fromSettings(access.settings())).isEqualTo(access);
        assertThat(access.toString()).doesNotContain("s3cret");
    }

    @Test
    void registryCredentialsAreTakenAsConfluentsClientsTakeThem() {
        java.util.function.Function<Map<String, String>, io.spinstream.schemas.RegistryAccess> access = env -> {
            Map<String, String> all = new java.util.HashMap<>(Map.of("SPIN_BOOTSTRAP_SERVERS", "a:1", "SPIN_REGISTRY_URL", "https://r.example/v1"));
            all.putAll(env);
            return io.spinstream.runtime.SpinContext.registryAccess(ServiceConfig.load(CommonKeys.all(), all, Optional.empty(), Map.of()));
        };
        var info = access.apply(Map.of("SPIN_REGISTRY_BASIC_AUTH_USER_INFO", "KEY:se:cret"));
        assertThat(info.basicAuth()).map(b -> b.username() + "/" + b.password()).contains("KEY/se:cret");
        assertThat(info.api()).isEqualTo(io.spinstream.schemas.RegistryAccess.Api.CONFLUENT);
        assertThat(info.authorization()).contains("Basic " + java.util.Base64.getEncoder().encodeToString(
                "KEY:se:cret".getBytes(java.nio.charset.StandardCharsets.UTF_8)));

        var url = access.apply(Map.of("SPIN_REGISTRY_BASIC_AUTH_CREDENTIALS_SOURCE", "URL", "SPIN_REGISTRY_URL", "https://u%40x:p@r.example/v1"));
        assertThat(url.url()).isEqualTo("https://r.example/v1");
        assertThat(url.basicAuth()).map(b -> b.username()).contains("u@x");

        var bearer = access.apply(Map.of("SPIN_REGISTRY_BEARER_AUTH_TOKEN", "t0k3n", "SPIN_REGISTRY_API", "apicurio",
                "SPIN_REGISTRY_AUTO_REGISTER_SCHEMAS", "false", "SPIN_REGISTRY_USE_LATEST_VERSION", "true"));
        assertThat(bearer.authorization()).contains("Bearer t0k3n");
        assertThat(bearer.api()).isEqualTo(io.spinstream.schemas.RegistryAccess.Api.APICURIO);
        assertThat(bearer.confluentRoot()).isEqualTo("https://r.example/v1/apis/ccompat/v7");
        assertThat(bearer.useLatestVersion()).isTrue();
        assertThat(bearer.toString()).doesNotContain("t0k3n").contains("bearer token hidden");

        assertThatThrownBy(() -> access.apply(Map.of("SPIN_REGISTRY_BEARER_AUTH_TOKEN", "tok", "SPIN_REGISTRY_BASIC_AUTH_USER_INFO", "a:b")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("spin.registry.bearer.auth.token (env SPIN_REGISTRY_BEARER_AUTH_TOKEN)"
                        + " and basic auth both given");
        assertThatThrownBy(() -> access.apply(Map.of("SPIN_REGISTRY_BASIC_AUTH_USER_INFO", "nocolon")))
                .hasMessageContaining("spin.registry.basic.auth.user.info (env SPIN_REGISTRY_BASIC_AUTH_USER_INFO): expected USER:PASSWORD");
        assertThatThrownBy(() -> access.apply(Map.of("SPIN_REGISTRY_BASIC_AUTH_CREDENTIALS_SOURCE", "URL")))
                .hasMessageContaining("=URL needs the credentials in spin.registry.url");
        assertThatThrownBy(() -> access.apply(Map.of("SPIN_REGISTRY_USE_LATEST_VERSION", "true")))
                .hasMessageContaining("spin.registry.use.latest.version (env SPIN_REGISTRY_USE_LATEST_VERSION)=true needs"
                        + " spin.registry.auto.register.schemas (env SPIN_REGISTRY_AUTO_REGISTER_SCHEMAS)=false");
        assertThatThrownBy(() -> access.apply(Map.of("SPIN_REGISTRY_API", "karapace")))
                .hasMessageContaining("spin.registry.api (env SPIN_REGISTRY_API): expected");
    }
}
