package io.spinstream.cli;

import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.kafka.TopicReader;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/** {@code spin checkpoints [--follow]}: checkpoint events with their evaluations, newest first. */
@Command(name = "checkpoints", mixinStandardHelpOptions = true,
        description = "Checkpoint events with their evaluations and verdicts, newest first.")
public final class CheckpointsCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions cluster;

    @Option(names = "--follow", description = "Print again whenever something new arrives, until Ctrl-C.")
    boolean follow;

    @Option(names = "--limit", defaultValue = "20", description = "At most this many checkpoints (default: ${DEFAULT-VALUE}).")
    int limit;

    @Override
    public Integer call() throws Exception {
        SpinContext context = cluster.context(List.of());
        TopicReader reader = new TopicReader(context.kafka());
        int shown = -1;
        do {
            List<CheckpointEvent> events = reader.values(context.topics().checkpoints());
            List<Evaluation> evaluations = reader.values(context.topics().evaluations());
            if (events.size() + evaluations.size() != shown) {
                shown = events.size() + evaluations.size();
                print(events, evaluations, limit, System.out);
            }
            if (follow) {
                Thread.sleep(2000);
            }
        } while (follow);
        return 0;
    }

    static void print(List<CheckpointEvent> events, List<Evaluation> evaluations, int limit, PrintStream out) {
        Map<String, List<Evaluation>> byCheckpoint = evaluations.stream().collect(Collectors.groupingBy(Evaluation::getCheckpointId));
        out.printf("%-36s %5s %7s %-24s %8s  %s%n", "CHECKPOINT", "ROUND", "STEP", "PARENT", "LOSS", "VERDICTS");
        events.stream()
                .collect(Collectors.toMap(CheckpointEvent::getCheckpointId, e -> e, (a, b) -> a)).values().stream()
                .sorted(Comparator.comparing(CheckpointEvent::getCreatedAt).reversed())
                .limit(limit)
                .forEach(e -> {
                    Double loss = e.getTrainMetrics().get("loss");
                    String verdicts = byCheckpoint.getOrDefault(e.getCheckpointId(), List.of()).stream()
                            .map(v -> v.getSuite() + ":" + v.getVerdict() + " " + v.getReasons())
                            .collect(Collectors.joining("; "));
                    out.printf("%-36s %5d %7d %-24s %8s  %s%s%n", e.getCheckpointId(), e.getRound(), e.getStep(),
                            e.getParentOpponentId(), loss == null ? "-" : String.format("%.4f", loss),
                            verdicts.isEmpty() ? "(not evaluated yet)" : verdicts, e.getEndOfRound() ? "  [end of round]" : "");
                });
    }
}
