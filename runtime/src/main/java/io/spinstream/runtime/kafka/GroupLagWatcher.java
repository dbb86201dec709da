package io.spinstream.runtime.kafka;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * A consumer group's lag over the topics a pattern matches, measured from the broker (committed against log ends, as
 * {@code spin lag} does) every few seconds and handed to a gauge: what the lag alert, the dashboard and an autoscaler
 * read. The client's own fetch-manager lag appears only a minute after each new consumer starts, and a new round's
 * group is a new consumer; this one counts a group that has not committed yet from the log's start.
 */
public final class GroupLagWatcher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(GroupLagWatcher.class);

    private final Admin admin;
    private final Supplier<Optional<String>> group;
    private final Pattern topics;
    private final LongConsumer measured;
    private final Thread thread;
    private volatile boolean running = true;

    /**
     * @param group    the group to measure now (empty: none yet, lag 0)
     * @param measured takes each measurement (the total over the partitions)
     */
    public GroupLagWatcher(Admin admin, Supplier<Optional<String>> group, Pattern topics, Duration every, LongConsumer measured) {
        this.admin = admin;
        this.group = group;
        this.topics = topics;
        this.measured = measured;
        this.thread = Thread.ofPlatform().daemon().name("group-lag").start(() -> {
            while (running) {
                refresh();
                try {
                    Thread.sleep(every.toMillis());
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
    }

    private void refresh() {
        try {
            Optional<String> g = group.get();
            if (g.isEmpty()) {
                measured.accept(0);
                return;
            }
            List<String> names = admin.listTopics().names().get(30, TimeUnit.SECONDS).stream()
                    .filter(t -> topics.matcher(t).matches()).toList();
            List<TopicPartition> partitions = new ArrayList<>();
            if (!names.isEmpty()) {
                for (Map.Entry<String, TopicDescription> d : admin.describeTopics(names).allTopicNames().get(30, TimeUnit.SECONDS)
                        .entrySet()) {
                    d.getValue().partitions().forEach(p -> partitions.add(new TopicPartition(d.getKey(), p.partition())));
                }
            }
            measured.accept(ConsumerLag.ofGroup(admin, g.get(), partitions).stream().mapToLong(ConsumerLag.PartitionLag::lag).sum());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            running = false;
        } catch (Exception e) {
            // The broker unreachable for a moment: the last value stands until the next look.
            log.debug("group lag not measured: {}", e.toString());
        }
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        admin.close(Duration.ofSeconds(5));
    }
}
