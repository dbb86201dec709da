package io.spinstream.runtime;

import io.spinstream.runtime.config.CommonKeys;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.kafka.KafkaSettings;
import io.spinstream.schemas.AvroSerdes;
import io.spinstream.schemas.SchemaRegistrar;
import io.spinstream.schemas.Topics;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * What a service is built from: its validated config, the Kafka client settings, the topic catalogue
 * and its instance name. Made once in a service's {@code main} and passed to the classes that need it.
 */
public record SpinContext(ServiceConfig config, KafkaSettings kafka, Topics topics, String instanceId,
                          String registryUrl) {

    public static SpinContext from(ServiceConfig config) {
        String registryUrl = config.get(CommonKeys.REGISTRY_URL);
        Topics topics = new Topics(config.get(CommonKeys.TOPIC_PREFIX),
                new Topics.Layout(config.get(CommonKeys.TOPIC_PARTITIONS),
                        config.get(CommonKeys.TOPIC_REPLICATION).shortValue()),
                new AvroSerdes(registryUrl));
        String instance = config.find(CommonKeys.INSTANCE_ID).orElseGet(SpinContext::hostName);
        return new SpinContext(config, KafkaSettings.from(config), topics, instance, registryUrl);
    }

    public SchemaRegistrar registrar() {
        return new SchemaRegistrar(registryUrl);
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
