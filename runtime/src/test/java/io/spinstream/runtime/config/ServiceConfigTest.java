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
}
