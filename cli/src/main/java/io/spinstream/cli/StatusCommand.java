package io.spinstream.cli;

import io.spinstream.runtime.kafka.ConsumerLag;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.config.RoundKeys;
import io.spinstream.runtime.kafka.TopicReader;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.OpponentPromotion;
import org.apache.kafka.clients.admin.Admin;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code spin status}: the run at a glance. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = "Current opponent and round, the round's generation progress, the trainer's step, the last verdicts.")
public final class StatusCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions cluster;

    @picocli.CommandLine.Option(names = "--run", paramLabel = "RUN_ID", description = "The run (else SPIN_RUN_ID, default spin).")
    String run;

    @Override
    public Integer call() throws Exception {
        SpinContext context = cluster.context(RoundKeys.all());
        String runId = run != null ? run : context.config().get(RoundKeys.RUN_ID);
        TopicReader reader = new TopicReader(context.kafka());
        Optional<OpponentPromotion> opponent = reader.values(context.topics().opponent()).stream()
                .filter(p -> p.getRunId().equals(runId)).reduce((a, b) -> b);
        if (opponent.isEmpty()) {
            System.out.println("run " + runId + ": no opponent promoted yet");
            return 0;
        }
        OpponentPromotion o = opponent.get();
        System.out.printf("run %s: opponent %s, round %d%n", runId, o.getCheckpointId(), o.getRound());
        String group = context.topics().generatorGroup(o.getRound());
        try (Admin admin = Admin.create(context.kafka().admin())) {
            List<ConsumerLag.PartitionLag> lag = ConsumerLag.of(admin, group);
            long done = lag.stream().mapToLong(ConsumerLag.PartitionLag::committed).sum();
            long total = lag.stream().mapToLong(ConsumerLag.PartitionLag::logEnd).sum();
            System.out.printf("generation (group %s): %d of %d prompt records read, lag %d%n", group, done, total,
                    total - done);
        }
        reader.values(context.topics().checkpoints()).stream()
                .filter(e -> e.getParentOpponentId().equals(o.getCheckpointId()))
                .max(Comparator.comparingLong(CheckpointEvent::getStep))
                .ifPresentOrElse(e -> System.out.printf("trainer: step %d, newest candidate %s%n", e.getStep(), e.getCheckpointId()),
                        () -> System.out.println("trainer: no candidate of this round yet"));
        List<Evaluation> evaluations = reader.values(context.topics().evaluations());
        evaluations.stream().skip(Math.max(0, evaluations.size() - 3))
                .forEach(v -> System.out.printf("verdict: %s %s (%s) %s%n", v.getCheckpointId(), v.getVerdict(), v.getSuite(),
                        v.getReasons()));
        try (Admin admin = Admin.create(context.kafka().admin())) {
            if (admin.listTopics().names().get().contains(context.topics().lionJudgements().name())) {
                io.spinstream.lion.LionProgress.of(reader.values(context.topics().lionJudgements()),
                        reader.values(context.topics().lionTrain()), reader.values(context.topics().lionCache()))
                        .lines().forEach(System.out::println);
            }
        }
        return 0;
    }
}
