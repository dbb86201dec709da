package io.spinstream.cli.ops;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

import java.util.ArrayList;
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
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends = admin.listOffsets(committed.keySet().stream()
                    .collect(Collectors.toMap(Function.identity(), tp -> OffsetSpec.latest()))).all().get(30, TimeUnit.SECONDS);
            committed.forEach((tp, o) -> out.add(new PartitionLag(group, tp.topic(), tp.partition(), o.offset(),
                    ends.get(tp).offset())));
        }
        out.sort(Comparator.comparing(PartitionLag::group).thenComparing(PartitionLag::topic).thenComparingInt(PartitionLag::partition));
        return out;
    }
}
