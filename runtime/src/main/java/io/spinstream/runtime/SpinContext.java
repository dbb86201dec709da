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
import java.util.List;
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

    /**
     * The registry's API, URL, credentials and trust store, as Confluent's clients take them: basic auth from
     * {@code basic.auth.user.info} (USER_INFO) or the URL's user info (URL), or from user name and password together;
     * or a bearer token; never both.
     */
    public static RegistryAccess registryAccess(ServiceConfig config) {
        List<String> problems = new java.util.ArrayList<>();
        Optional<String> user = config.find(CommonKeys.REGISTRY_USERNAME);
        Optional<String> password = config.find(CommonKeys.REGISTRY_PASSWORD);
        String url = config.get(CommonKeys.REGISTRY_URL);
        if (user.isPresent() != password.isPresent()) {
            problems.add(CommonKeys.REGISTRY_USERNAME.display() + " and " + CommonKeys.REGISTRY_PASSWORD.display()
                    + " go together: expected both (basic auth) or neither");
        }
        Optional<RegistryAccess.BasicAuth> basic = Optional.empty();
        if (user.isPresent() && password.isPresent()) {
            basic = Optional.of(new RegistryAccess.BasicAuth(user.get(), password.get()));
        }
        Optional<String> info = config.find(CommonKeys.REGISTRY_USER_INFO);
        if (config.get(CommonKeys.REGISTRY_BASIC_AUTH_SOURCE).equals("URL")) {
            java.net.URI uri = java.net.URI.create(url);
            if (uri.getRawUserInfo() == null) {
                problems.add(CommonKeys.REGISTRY_BASIC_AUTH_SOURCE.display() + "=URL needs the credentials in "
                        + CommonKeys.REGISTRY_URL.display() + ": expected https://USER:PASSWORD@host/...");
            } else {
                info = Optional.of(java.net.URLDecoder.decode(uri.getRawUserInfo(), java.nio.charset.StandardCharsets.UTF_8));
                url = url.replace(uri.getRawUserInfo() + "@", "");
            }
        }
        if (info.isPresent()) {
            int colon = info.get().indexOf(':');
            if (colon <= 0 || colon == info.get().length() - 1) {
                problems.add(CommonKeys.REGISTRY_USER_INFO.display() + ": expected USER:PASSWORD");
            } else if (basic.isPresent()) {
                problems.add(CommonKeys.REGISTRY_USER_INFO.display() + " and " + CommonKeys.REGISTRY_USERNAME.display()
                        + " both give basic auth: expected one of them");
            } else {
                basic = Optional.of(new RegistryAccess.BasicAuth(info.get().substring(0, colon), info.get().substring(colon + 1)));
            }
        }
        Optional<String> bearer = config.find(CommonKeys.REGISTRY_BEARER_TOKEN);
        if (bearer.isPresent() && basic.isPresent()) {
            problems.add(CommonKeys.REGISTRY_BEARER_TOKEN.display() + " and basic auth both given: expected one of them");
        }
        boolean autoRegister = config.get(CommonKeys.REGISTRY_AUTO_REGISTER);
        boolean latest = config.get(CommonKeys.REGISTRY_USE_LATEST);
        if (latest && autoRegister) {
            problems.add(CommonKeys.REGISTRY_USE_LATEST.display() + "=true needs " + CommonKeys.REGISTRY_AUTO_REGISTER.display()
                    + "=false (as Confluent's serializer)");
        }
        if (!problems.isEmpty()) {
            throw new ConfigException("invalid configuration:\n  - " + String.join("\n  - ", problems));
        }
        Optional<RegistryAccess.TrustStore> trust = config.find(CommonKeys.REGISTRY_TRUSTSTORE).map(path ->
                new RegistryAccess.TrustStore(path, config.find(CommonKeys.REGISTRY_TRUSTSTORE_PASSWORD).orElse(null),
                        config.get(CommonKeys.REGISTRY_TRUSTSTORE_TYPE)));
        RegistryAccess.Api api = config.get(CommonKeys.REGISTRY_API).equals("apicurio") ? RegistryAccess.Api.APICURIO
                : RegistryAccess.Api.CONFLUENT;
        return new RegistryAccess(url, api, basic, bearer, trust, autoRegister, latest);
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
