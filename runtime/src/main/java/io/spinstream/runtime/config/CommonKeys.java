package io.spinstream.runtime.config;

import java.util.List;

/** The keys every service reads. Services declare theirs beside these. */
public final class CommonKeys {
    private CommonKeys() {
    }

    public static final ConfigKey<String> BOOTSTRAP_SERVERS = ConfigKey.required("spin.bootstrap.servers",
            ValueType.HOST_PORTS, "the Kafka cluster");
    public static final ConfigKey<String> REGISTRY_URL = ConfigKey.required("spin.registry.url",
            ValueType.HTTP_URL, "the schema registry: with spin.registry.api=confluent the root of its Confluent REST API"
                    + " (http://schema-registry:8081, https://psrc-....confluent.cloud, Apicurio's http://registry:8080/apis/ccompat/v7);"
                    + " with apicurio, Apicurio's base URL");
    public static final ConfigKey<String> REGISTRY_API = ConfigKey.optional("spin.registry.api",
            ValueType.oneOf("confluent", "apicurio"), "confluent",
            "the REST API the serdes speak: Confluent's (any Confluent-compatible registry) or Apicurio's own v3");
    public static final ConfigKey<String> REGISTRY_BASIC_AUTH_SOURCE = ConfigKey.optional("spin.registry.basic.auth.credentials.source",
            ValueType.oneOf("USER_INFO", "URL"), "USER_INFO",
            "as Confluent's clients: USER_INFO (spin.registry.basic.auth.user.info) or URL (user:password@ in spin.registry.url)");
    public static final ConfigKey<String> REGISTRY_USER_INFO = ConfigKey.optional("spin.registry.basic.auth.user.info",
            ValueType.TEXT, null, "basic auth as USER:PASSWORD (Confluent Cloud: API key:secret; from a Secret)");
    public static final ConfigKey<String> REGISTRY_BEARER_TOKEN = ConfigKey.optional("spin.registry.bearer.auth.token",
            ValueType.TEXT, null, "a bearer token sent to the registry instead of basic auth (from a Secret)");
    public static final ConfigKey<Boolean> REGISTRY_AUTO_REGISTER = ConfigKey.optional("spin.registry.auto.register.schemas",
            ValueType.BOOLEAN, "true", "the serializers register a record's schema under its subject (Confluent's auto.register.schemas)");
    public static final ConfigKey<Boolean> REGISTRY_USE_LATEST = ConfigKey.optional("spin.registry.use.latest.version",
            ValueType.BOOLEAN, "false", "the serializers write with the subject's latest schema (needs auto.register.schemas=false)");
    public static final ConfigKey<String> REGISTRY_USERNAME = ConfigKey.optional("spin.registry.username",
            ValueType.TEXT, null, "user name for the registry's basic auth (with spin.registry.password; or spin.registry.basic.auth.user.info)");
    public static final ConfigKey<String> REGISTRY_PASSWORD = ConfigKey.optional("spin.registry.password",
            ValueType.TEXT, null, "password for the registry's basic auth (from a Secret)");
    public static final ConfigKey<java.nio.file.Path> REGISTRY_TRUSTSTORE = ConfigKey.optional("spin.registry.truststore.location",
            ValueType.READABLE_FILE, null, "trust store for an https registry URL whose certificate the JVM does not trust");
    public static final ConfigKey<String> REGISTRY_TRUSTSTORE_PASSWORD = ConfigKey.optional("spin.registry.truststore.password",
            ValueType.TEXT, null, "password of the registry trust store, if it has one");
    public static final ConfigKey<String> REGISTRY_TRUSTSTORE_TYPE = ConfigKey.optional("spin.registry.truststore.type",
            ValueType.oneOf("PKCS12", "JKS"), "PKCS12", "format of the registry trust store");
    public static final ConfigKey<String> TOPIC_PREFIX = ConfigKey.optional("spin.topic.prefix",
            ValueType.TOPIC_PREFIX, "spin", "prefix of every topic name");
    public static final ConfigKey<Integer> TOPIC_PARTITIONS = ConfigKey.optional("spin.topic.partitions",
            ValueType.POSITIVE_INT, "4", "partitions of the prompt, synthetic and pair topics when created");
    public static final ConfigKey<Integer> TOPIC_REPLICATION = ConfigKey.optional("spin.topic.replication.factor",
            ValueType.POSITIVE_INT, "1", "replicas of every topic when created (3 on a production cluster)");
    public static final ConfigKey<String> INSTANCE_ID = ConfigKey.optional("spin.instance.id",
            ValueType.TEXT, null, "this instance's stable name (pod name); defaults to the host name");
    public static final ConfigKey<Long> METADATA_MAX_AGE_MS = ConfigKey.optional("spin.metadata.max.age.ms",
            ValueType.POSITIVE_LONG, "5000", "how soon a new prompt stream is seen by pattern subscriptions");

    public static final ConfigKey<Integer> METRICS_PORT = ConfigKey.optional("spin.metrics.port",
            ValueType.PORT, "9400", "port of /metrics, /health/live and /health/ready (0: any free port)");
    public static final ConfigKey<String> METRICS_ADDRESS = ConfigKey.optional("spin.metrics.address",
            ValueType.TEXT, "0.0.0.0", "address the metrics and health port binds (0.0.0.0: every interface, as the kubelet's"
                    + " probes and Prometheus reach a pod; 127.0.0.1: this host only)");
    public static final ConfigKey<Long> TRANSACTION_TIMEOUT_MS = ConfigKey.optional("spin.transaction.timeout.ms",
            ValueType.POSITIVE_LONG, "60000", "how long a crashed instance's open transaction blocks its partitions");

    public static List<ConfigKey<?>> all() {
        return List.of(BOOTSTRAP_SERVERS, REGISTRY_URL, REGISTRY_API, REGISTRY_BASIC_AUTH_SOURCE, REGISTRY_USER_INFO,
                REGISTRY_BEARER_TOKEN, REGISTRY_AUTO_REGISTER, REGISTRY_USE_LATEST, REGISTRY_USERNAME, REGISTRY_PASSWORD, REGISTRY_TRUSTSTORE,
                REGISTRY_TRUSTSTORE_PASSWORD, REGISTRY_TRUSTSTORE_TYPE, TOPIC_PREFIX, TOPIC_PARTITIONS, TOPIC_REPLICATION,
                INSTANCE_ID, METADATA_MAX_AGE_MS, METRICS_PORT, METRICS_ADDRESS, TRANSACTION_TIMEOUT_MS);
    }
}
