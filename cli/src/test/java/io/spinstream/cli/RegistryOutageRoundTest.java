package io.spinstream.cli;

import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.DevStack;
import io.spinstream.runtime.PollingService;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The schema registry stopped mid-round, while the three services answer, join and train (each meets
 * schemas it has not looked up yet), and started again: the round goes on to its verdict, nothing is
 * dead-lettered, every training prompt is answered once, and no service died.
 */
@BrokerTest
@Tag("fault")
class RegistryOutageRoundTest {

    @Test
    void aRegistryOutageMidRoundIsWaitedOut(DevStack stack, @TempDir Path dir) throws Exception {
        SpinFixtures f = ThreeServices.fixtures(stack, dir);
        f.promote(f.checkpoint("base", 1), 0);
        List<Prompt> prompts = IntStream.range(0, 40).mapToObj(i -> SpinFixtures.prompt("arith", "o" + i, i + "+2=",
                String.valueOf(i + 2))).toList();
        List<PollingService> services = ThreeServices.start(f);
        try {
            // The services are up and have looked up nothing but the opponent's schema when the outage starts.
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (!services.stream().allMatch(PollingService::isReady) && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            var records = prompts.stream().map(p -> f.topics.prompts("arith").rawRecord(p.getPromptId(), p)).toList();
            stack.registry().stopServer();
            try {
                try (var producer = new org.apache.kafka.clients.producer.KafkaProducer<byte[], byte[]>(f.kafka.idempotentProducer())) {
                    records.forEach(producer::send);
                    producer.flush();
                }
                Thread.sleep(8_000);
                services.forEach(s -> assertThat(s.deadBecause()).as("live through the outage").isEmpty());
            } finally {
                stack.registry().startServer();
            }
            List<Evaluation> verdicts = f.read(f.topics.evaluations(), l -> !l.isEmpty(), Duration.ofSeconds(180));
            assertThat(verdicts).as("the round reached its verdict").isNotEmpty();
            services.forEach(s -> assertThat(s.deadBecause()).isEmpty());
        } finally {
            services.forEach(PollingService::stop);
        }
        services.forEach(s -> assertThat(s.failure()).isNull());
        assertThat(f.readAll(f.topics.deadLetters())).as("no dead letters").isEmpty();
        HeldOutSplit split = new HeldOutSplit(0.25, "spin");
        Set<String> training = prompts.stream().map(Prompt::getPromptId).filter(split::isTraining).collect(Collectors.toSet());
        List<SyntheticResponse> round0 = f.readAll(f.topics.synthetic()).stream().filter(a -> a.getRound() == 0).toList();
        assertThat(round0).extracting(SyntheticResponse::getPromptId).as("round 0: each training prompt once")
                .containsExactlyInAnyOrderElementsOf(training);
        assertThat(f.readAll(f.topics.opponent())).extracting(OpponentPromotion::getRound)
                .doesNotHaveDuplicates();
    }
}
