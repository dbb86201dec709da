package io.spinstream.cli;

import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.config.CommonKeys;
import io.spinstream.runtime.config.ConfigKey;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.kafka.KafkaSettings;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * How a command finds the cluster: flags, else the environment and SPIN_CONFIG_FILE with the services'
 * keys (SASL/TLS settings as {@code spin.kafka.*}), validated the same way.
 */
public final class ClusterOptions {
    @Option(names = "--bootstrap", paramLabel = "HOST:PORT", description = "Kafka bootstrap servers (else SPIN_BOOTSTRAP_SERVERS).")
    String bootstrap;

    @Option(names = "--registry", paramLabel = "URL", description = "Schema registry base URL (else SPIN_REGISTRY_URL).")
    String registry;

    @Option(names = "--prefix", paramLabel = "PREFIX", description = "Topic prefix (else SPIN_TOPIC_PREFIX, default spin).")
    String prefix;

    @Option(names = "--config", paramLabel = "FILE", description = "Properties file with the services' keys (else SPIN_CONFIG_FILE).")
    Path config;

    /** Only the Kafka client settings, for commands that read nothing through the registry (as Kafka's own tools). */
    public KafkaSettings kafka() {
        List<ConfigKey<?>> keys = new java.util.ArrayList<>(CommonKeys.all());
        // Read where it is set (a shared properties file has it), never required.
        keys.set(keys.indexOf(CommonKeys.REGISTRY_URL), new ConfigKey<>(CommonKeys.REGISTRY_URL.name(),
                CommonKeys.REGISTRY_URL.type(), null, false, CommonKeys.REGISTRY_URL.doc()));
        return KafkaSettings.from(load(keys));
    }

    public SpinContext context(List<ConfigKey<?>> extraKeys) {
        List<ConfigKey<?>> keys = new java.util.ArrayList<>(CommonKeys.all());
        keys.addAll(extraKeys);
        return SpinContext.from(load(keys));
    }

    private ServiceConfig load(List<ConfigKey<?>> keys) {
        Map<String, String> overrides = new HashMap<>();
        if (bootstrap != null) {
            overrides.put(CommonKeys.BOOTSTRAP_SERVERS.name(), bootstrap);
        }
        if (registry != null) {
            overrides.put(CommonKeys.REGISTRY_URL.name(), registry);
        }
        if (prefix != null) {
            overrides.put(CommonKeys.TOPIC_PREFIX.name(), prefix);
        }
        Map<String, String> env = System.getenv();
        Optional<Path> file = Optional.ofNullable(config)
                .or(() -> Optional.ofNullable(env.get(ServiceConfig.CONFIG_FILE_ENV)).filter(s -> !s.isBlank()).map(Path::of));
        return ServiceConfig.load(keys, env, file, overrides);
    }
}
