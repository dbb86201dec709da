package io.spinstream.runtime.kafka;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Per consumer group, topic and partition: the committed offset, the log end offset and their
 * difference, computed as Kafka's {@code kafka-consumer-groups --describe} does (latest offsets,
 * read-uncommitted). A generator group's lag is its round's generation progress.
 */
public final class ConsumerLag {

    public record PartitionLag(String group, String topic, int partition, long committed, long logEnd) {
        public long lag() {
            return Math.max(0, logEnd - committed);
        }
    }

    private ConsumerLag() {
    }

    public static List<PartitionLag> of(Admin admin, String groupPrefix) throws ExecutionException, InterruptedException, TimeoutException {
        List<String> groups = admin.listGroups().all().get(30, TimeUnit.SECONDS).stream()
                .map(GroupListing::groupId).filter(g -> groupPrefix == null || g.startsWith(groupPrefix)).sorted().toList();
        List<PartitionLag> out = new ArrayList<>();
        for (String group : groups) {
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
            committed.values().removeIf(java.util.Objects::isNull);
            if (committed.isEmpty()) {
                continue;
            }
            Map<TopicPartition, Long> ends = offsets(admin, committed.keySet(), OffsetSpec.latest());
            committed.forEach((tp, o) -> out.add(new PartitionLag(group, tp.topic(), tp.partition(), o.offset(), ends.get(tp))));
        }
        out.sort(Comparator.comparing(PartitionLag::group).thenComparing(PartitionLag::topic).thenComparingInt(PartitionLag::partition));
        return out;
    }

    /**
     * One group's lag over {@code partitions}: from its committed offset where it has one, else from the log's start,
     * where a group that has not committed yet (a new round's generator group) begins reading.
     */
    public static List<PartitionLag> ofGroup(Admin admin, String group, Collection<TopicPartition> partitions)
            throws ExecutionException, InterruptedException, TimeoutException {
        if (partitions.isEmpty()) {
            return List.of();
        }
        Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
                .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
        Map<TopicPartition, Long> starts = offsets(admin, partitions, OffsetSpec.earliest());
        Map<TopicPartition, Long> ends = offsets(admin, partitions, OffsetSpec.latest());
        List<PartitionLag> out = new ArrayList<>();
        for (TopicPartition tp : partitions) {
            OffsetAndMetadata o = committed.get(tp);
            out.add(new PartitionLag(group, tp.topic(), tp.partition(), o != null ? o.offset() : starts.get(tp), ends.get(tp)));
        }
        out.sort(Comparator.comparing(PartitionLag::topic).thenComparingInt(PartitionLag::partition));
        return out;
    }

    /** The log's offsets of each partition, as {@code spec} asks (its start or its end). */
    private static Map<TopicPartition, Long> offsets(Admin admin, Collection<TopicPartition> partitions, OffsetSpec spec)
            throws ExecutionException, InterruptedException, TimeoutException {
        return admin.listOffsets(partitions.stream().collect(Collectors.toMap(Function.identity(), tp -> spec)))
                .all().get(30, TimeUnit.SECONDS).entrySet().stream()
                .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
    }
}
