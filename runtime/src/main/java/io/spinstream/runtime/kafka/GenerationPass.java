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
 * partition of every prompt stream, up to the partition's end; and whether the pair joiner has read all its
 * inputs. The trainer ends a round once both hold and it has read the pairs topic to its end, so that a slow
 * generator never cuts a round short and a round does not wait longer than its pairs take to arrive.
 */
public final class GenerationPass {
    private GenerationPass() {
    }

    /** Prompt partitions that {@code round}'s generators have not finished; empty when the pass is complete. */
    public static List<TopicPartition> unfinished(Admin admin, Topics topics, int round)
            throws ExecutionException, InterruptedException, TimeoutException {
        return behind(admin, topics.generatorGroup(round), partitions(admin, promptStreams(admin, topics)));
    }

    /**
     * Partitions of the pair joiner's inputs (every prompt stream and the answers) that it has not read to the
     * end: until it has, an answer may still be on its way to the pairs topic. Empty when it has read them all.
     */
    public static List<TopicPartition> unjoined(Admin admin, Topics topics)
            throws ExecutionException, InterruptedException, TimeoutException {
        List<String> inputs = new ArrayList<>(promptStreams(admin, topics));
        inputs.add(topics.synthetic().name());
        return behind(admin, topics.pairJoinerGroup(), partitions(admin, inputs));
    }

    private static List<String> promptStreams(Admin admin, Topics topics)
            throws ExecutionException, InterruptedException, TimeoutException {
        return admin.listTopics().names().get(30, TimeUnit.SECONDS).stream()
                .filter(t -> topics.promptsPattern().matcher(t).matches()).toList();
    }

    private static List<TopicPartition> partitions(Admin admin, List<String> topicNames)
            throws ExecutionException, InterruptedException, TimeoutException {
        List<TopicPartition> partitions = new ArrayList<>();
        for (TopicDescription d : admin.describeTopics(topicNames).allTopicNames().get(30, TimeUnit.SECONDS).values()) {
            d.partitions().forEach(p -> partitions.add(new TopicPartition(d.name(), p.partition())));
        }
        return partitions;
    }

    /**
     * The non-empty partitions on which {@code group} has not committed up to the end. A transactional
     * writer's last offset is its commit marker; consumers that commit their position (the generators, Kafka
     * Streams since 2.5) step over it.
     */
    static List<TopicPartition> behind(Admin admin, String group, List<TopicPartition> partitions)
            throws ExecutionException, InterruptedException, TimeoutException {
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        Map<TopicPartition, OffsetSpec> earliest = new HashMap<>();
        partitions.forEach(tp -> {
            latest.put(tp, OffsetSpec.latest());
            earliest.put(tp, OffsetSpec.earliest());
        });
        Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends = admin.listOffsets(latest).all().get(30, TimeUnit.SECONDS);
        Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> starts = admin.listOffsets(earliest).all().get(30, TimeUnit.SECONDS);
        Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
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
