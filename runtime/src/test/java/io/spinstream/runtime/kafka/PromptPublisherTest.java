package io.spinstream.runtime.kafka;

import io.spinstream.devstack.DevStack;
import io.spinstream.devstack.BrokerTest;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.Prompt;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

@BrokerTest
class PromptPublisherTest {

    @Test
    void aNewStreamIsCoPartitionedWithTheSyntheticAnswersAndWrittenInOneTransaction(DevStack stack, @TempDir Path dir)
            throws Exception {
        // The services' topics were made with 2 partitions; this client's own layout says 3.
        SpinFixtures f = new SpinFixtures(stack, dir, List.of(), Map.of("SPIN_TOPIC_PARTITIONS", "2"));
        SpinContext client = SpinContext.from(f.config(Map.of("SPIN_TOPIC_PARTITIONS", "3")));
        List<Prompt> prompts = IntStream.range(0, 25).mapToObj(i -> SpinFixtures.prompt("fresh", "p" + i, i + "+1=",
                String.valueOf(i + 1))).toList();
        List<Integer> progress = new ArrayList<>();

        new PromptPublisher(client).publish("fresh", prompts, progress::add);

        try (Admin admin = Admin.create(f.kafka.admin())) {
            String name = f.topics.prompts("fresh").name();
            assertThat(admin.describeTopics(List.of(name)).allTopicNames().get(30, TimeUnit.SECONDS).get(name).partitions())
                    .hasSize(2);
        }
        assertThat(progress).containsExactlyElementsOf(IntStream.rangeClosed(1, 25).boxed().toList());
        List<Prompt> read = f.read(f.topics.prompts("fresh"), l -> l.size() >= 25, Duration.ofSeconds(20));
        assertThat(read).extracting(Prompt::getPromptId).containsExactlyInAnyOrderElementsOf(
                prompts.stream().map(Prompt::getPromptId).toList());
    }
}
