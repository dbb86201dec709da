package io.spinstream.runtime;

import io.spinstream.runtime.config.CommonKeys;
import io.spinstream.runtime.config.ConfigException;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.kafka.KafkaSettings;
import io.spinstream.schemas.AvroSerdes;
import io.spinstream.schemas.RegistryAccess;
import io.spinstream.schemas.SchemaRegistrar;
import io.spinstream.schemas.Topics;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Optional;

/**
 * What a service is built from: its validated config, the Kafka client settings, the topic catalogue
 * and its instance name. Made once in a service's {@code main} and passed to the classes that need it.
 */
public record SpinContext(ServiceConfig config, KafkaSettings kafka, Topics topics, String instanceId,
                          RegistryAccess registry, FaultPoints faults) {

    public static SpinContext from(ServiceConfig config) {
        RegistryAccess registry = registryAccess(config);
        Topics topics = new Topics(config.get(CommonKeys.TOPIC_PREFIX),
                new Topics.Layout(config.get(CommonKeys.TOPIC_PARTITIONS),
                        config.get(CommonKeys.TOPIC_REPLICATION).shortValue()),
                new AvroSerdes(registry));
        String instance = config.find(CommonKeys.INSTANCE_ID).orElseGet(SpinContext::hostName);
        return new SpinContext(config, KafkaSettings.from(config), topics, instance, registry, FaultPoints.fromSystemProperty());
    }

    /** The registry's URL, credentials and trust store; user name and password come together or not at all. */
    public static RegistryAccess registryAccess(ServiceConfig config) {
        Optional<String> user = config.find(CommonKeys.REGISTRY_USERNAME);
        Optional<String> password = config.find(CommonKeys.REGISTRY_PASSWORD);
        if (user.isPresent() != password.isPresent()) {
            throw new ConfigException("invalid configuration:\n  - " + CommonKeys.REGISTRY_USERNAME.display() + " and "
                    + CommonKeys.REGISTRY_PASSWORD.display() + " go together: expected both (basic auth) or neither");
        }
        Optional<RegistryAccess.BasicAuth> basic = user.map(u -> new RegistryAccess.BasicAuth(u, password.get()));
        Optional<RegistryAccess.TrustStore> trust = config.find(CommonKeys.REGISTRY_TRUSTSTORE).map(path ->
                new RegistryAccess.TrustStore(path, config.find(CommonKeys.REGISTRY_TRUSTSTORE_PASSWORD).orElse(null),
                        config.get(CommonKeys.REGISTRY_TRUSTSTORE_TYPE)));
        return new RegistryAccess(config.get(CommonKeys.REGISTRY_URL), basic, trust);
    }

    public String registryUrl() {
        return registry.url();
    }

    public SchemaRegistrar registrar() {
        return new SchemaRegistrar(registry);
    }

    private static String hostName() {
        String pod = System.getenv("HOSTNAME");
        if (pod != null && !pod.isBlank()) {
            return pod;
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }
}
