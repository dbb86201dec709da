package io.spinstream.runtime.kafka;

import io.spinstream.schemas.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Whether a round's generation pass is complete: the round's generator group has committed, on every
 * partition of every prompt stream, up to the partition's end. The trainer ends a round on this (and on
 * no new pair for a while), so that a slow generator never cuts a round short.
 */
public final class GenerationPass {
    private GenerationPass() {
    }

    /** Prompt partitions that {@code round}'s generators have not finished; empty when the pass is complete. */
    public static List<TopicPartition> unfinished(Admin admin, Topics topics, int round)
            throws ExecutionException, InterruptedException, TimeoutException {
        List<String> streams = admin.listTopics().names().get(30, TimeUnit.SECONDS).stream()
                .filter(t -> topics.promptsPattern().matcher(t).matches()).toList();
        List<TopicPartition> partitions = new ArrayList<>();
        for (TopicDescription d : admin.describeTopics(streams).allTopicNames().get(30, TimeUnit.SECONDS).values()) {
            d.partitions().forEach(p -> partitions.add(new TopicPartition(d.name(), p.partition())));
        }
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        Map<TopicPartition, OffsetSpec> earliest = new HashMap<>();
        partitions.forEach(tp -> {
            latest.put(tp, OffsetSpec.latest());
            earliest.put(tp, OffsetSpec.earliest());
        });
        Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends = admin.listOffsets(latest).all().get(30, TimeUnit.SECONDS);
        Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> starts = admin.listOffsets(earliest).all().get(30, TimeUnit.SECONDS);
        Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(topics.generatorGroup(round))
                .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
        List<TopicPartition> out = new ArrayList<>();
        for (TopicPartition tp : partitions) {
            long end = ends.get(tp).offset();
            OffsetAndMetadata c = committed.get(tp);
            boolean empty = end == starts.get(tp).offset();
            if (!empty && (c == null || c.offset() < end)) {
                out.add(tp);
            }
        }
        return out;
    }
}
