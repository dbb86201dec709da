package io.spinstream.evaluator;

import io.spinstream.runtime.kafka.KafkaSettings;
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
 * consumer group: the held-out prompts of every stream, and the evaluations written so far.
 */
final class TopicReader {
    private final KafkaSettings kafka;

    TopicReader(KafkaSettings kafka) {
        this.kafka = kafka;
    }

    void readAll(Pattern topics, Consumer<ConsumerRecord<byte[], byte[]>> sink) {
        Map<String, Object> props = kafka.groupLessConsumer();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(props)) {
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
}
