package io.spinstream.schemas;

import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.TopicConfig;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How a topic is created: partitions, replication and its topic-level configs (cleanup policy,
 * retention). Part of the catalogue, so that the CLI, the dev stack and the Kubernetes manifests agree.
 */
public record TopicSettings(int partitions, short replicationFactor, Map<String, String> configs) {

    public TopicSettings {
        if (partitions < 1) {
            throw new IllegalArgumentException("partitions must be >= 1, got " + partitions);
        }
        if (replicationFactor < 1) {
            throw new IllegalArgumentException("replication factor must be >= 1, got " + replicationFactor);
        }
        configs = Map.copyOf(configs);
    }

    /** Keeps only the latest value per key: prompt streams and the opponent topic. */
    public static TopicSettings compacted(int partitions, short replicationFactor) {
        return new TopicSettings(partitions, replicationFactor, Map.of(
                TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT,
                TopicConfig.MIN_COMPACTION_LAG_MS_CONFIG, "0"));
    }

    /** Deletes by age. {@code retentionMs} of -1 keeps forever. */
    public static TopicSettings retained(int partitions, short replicationFactor, long retentionMs) {
        return new TopicSettings(partitions, replicationFactor, Map.of(
                TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_DELETE,
                TopicConfig.RETENTION_MS_CONFIG, Long.toString(retentionMs)));
    }

    public boolean isCompacted() {
        return TopicConfig.CLEANUP_POLICY_COMPACT.equals(configs.get(TopicConfig.CLEANUP_POLICY_CONFIG));
    }

    public NewTopic toNewTopic(String name) {
        return new NewTopic(name, partitions, replicationFactor).configs(new LinkedHashMap<>(configs));
    }
}
