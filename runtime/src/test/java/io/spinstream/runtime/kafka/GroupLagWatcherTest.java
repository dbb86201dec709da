package io.spinstream.runtime.kafka;

import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.DevStack;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.Prompt;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/** A group's lag measured from the broker: a group that has not committed counts from the log's start. */
@BrokerTest
class GroupLagWatcherTest {

    @Test
    void aNewGroupsBacklogShowsAtOnceAndShrinksAsItCommits(DevStack stack, @TempDir Path dir) throws Exception {
        SpinFixtures f = new SpinFixtures(stack, dir, List.of(), Map.of("SPIN_TOPIC_PARTITIONS", "2"));
        List<Prompt> prompts = IntStream.range(0, 12).mapToObj(i -> SpinFixtures.prompt("lagging", "p" + i, i + "+1=",
                String.valueOf(i + 1))).toList();
        f.provision(List.of("lagging"));
        f.produce("lagging", prompts, List.of());
        AtomicLong measured = new AtomicLong(-1);
        String group = "lag-test-group";
        try (GroupLagWatcher watcher = new GroupLagWatcher(Admin.create(f.kafka.admin()), () -> Optional.of(group),
                f.topics.promptsPattern(), Duration.ofMillis(100), measured::set)) {
            awaitValue(measured, 12, "the whole stream before the group's first commit");
            TopicPartition p0 = new TopicPartition(f.topics.prompts("lagging").name(), 0);
            long end0;
            try (Admin admin = Admin.create(f.kafka.admin())) {
                end0 = ConsumerLag.ofGroup(admin, group, List.of(p0)).get(0).logEnd();
            }
            try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(f.kafka.readCommittedConsumer(group))) {
                c.commitSync(Map.of(p0, new OffsetAndMetadata(end0)));
            }
            awaitValue(measured, 12 - end0, "partition 0 committed to its end");
        }
    }

    private static void awaitValue(AtomicLong measured, long expected, String what) throws InterruptedException {
        long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (measured.get() != expected && System.nanoTime() < until) {
            Thread.sleep(50);
        }
        assertThat(measured.get()).as(what).isEqualTo(expected);
    }
}
