package io.spinstream.runtime.kafka;

import io.spinstream.schemas.Topic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Reads whole topics from the beginning to their current end (committed records only), without a
 * consumer group: the held-out prompts of every stream, the evaluations and checkpoints written so far.
 */
public final class TopicReader {
    private final KafkaSettings kafka;

    public TopicReader(KafkaSettings kafka) {
        this.kafka = kafka;
    }

    public void readAll(Pattern topics, Consumer<ConsumerRecord<byte[], byte[]>> sink) {
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(kafka.groupLessConsumer())) {
            List<TopicPartition> partitions = new ArrayList<>();
            c.listTopics(Duration.ofSeconds(30)).forEach((name, infos) -> {
                if (topics.matcher(name).matches()) {
                    infos.forEach(i -> partitions.add(new TopicPartition(i.topic(), i.partition())));
                }
            });
            if (partitions.isEmpty()) {
                return;
            }
            c.assign(partitions);
            c.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = c.endOffsets(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (partitions.stream().anyMatch(tp -> c.position(tp) < end.get(tp)) && System.nanoTime() < deadline) {
                c.poll(Duration.ofMillis(200)).forEach(sink);
            }
        }
    }

    /** Every committed value of one topic, decoded; undecodable records are skipped. */
    public <V> List<V> values(Topic<?, V> topic) {
        List<V> out = new ArrayList<>();
        readAll(Pattern.compile(Pattern.quote(topic.name())), r -> {
            if (r.value() != null) {
                try {
                    out.add(topic.deserializeValue(r.value()));
                } catch (RuntimeException e) {
                    // a dead letter of whoever wrote it; not shown
                }
            }
        });
        return out;
    }
}
