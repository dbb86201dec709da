package io.spinstream.cli;

import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointRetention;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.kafka.TopicReader;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.Verdict;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
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

    @Option(names = "--store", paramLabel = "DIR", description = "Also say which checkpoints of this store the trainer's"
            + " retention keeps, and why.")
    Path store;

    @Option(names = "--run", defaultValue = "spin", description = "With --store: the run whose opponent is in force (default: ${DEFAULT-VALUE}).")
    String run;

    @Option(names = "--keep", defaultValue = "3", description = "With --store: spin.checkpoint.keep (default: ${DEFAULT-VALUE}).")
    int keep;

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
                if (store != null) {
                    String opponent = reader.values(context.topics().opponent()).stream()
                            .filter(p -> p.getRunId().equals(run)).reduce((x, y) -> y)
                            .map(io.spinstream.schemas.OpponentPromotion::getCheckpointId).orElse(null);
                    printRetention(new CheckpointStore(store), opponent, refused(evaluations), new CheckpointRetention(keep),
                            System.out);
                }
            }
            if (follow) {
                Thread.sleep(2000);
            }
        } while (follow);
        return 0;
    }

    static Set<String> refused(List<Evaluation> evaluations) {
        return evaluations.stream().filter(e -> e.getVerdict() == Verdict.REJECT || e.getVerdict() == Verdict.INVALID)
                .map(Evaluation::getCheckpointId).collect(Collectors.toSet());
    }

    /** What the trainer's retention does with each checkpoint of {@code store}, and why. */
    static void printRetention(CheckpointStore store, String opponentId, Set<String> refused, CheckpointRetention retention,
                               PrintStream out) {
        List<CheckpointMetadata> all = store.list().stream().flatMap(id -> store.metadata(id).stream()).toList();
        out.printf("%nstore %s (opponent in force: %s, keep %d):%n", store.root(), opponentId == null ? "none" : opponentId,
                retention.keep());
        Map<String, CheckpointMetadata> byId = all.stream().collect(Collectors.toMap(CheckpointMetadata::id, m -> m));
        for (CheckpointRetention.Decision d : retention.plan(all, opponentId, refused)) {
            CheckpointMetadata m = byId.get(d.id());
            String kind = m != null && m.isAdapter() ? "  [a LoRA adapter over " + m.baseId() + "]" : "";
            String what = switch (d) {
                case CheckpointRetention.Decision.Keep k -> "kept";
                case CheckpointRetention.Decision.KeepWeights k -> "kept, weights only";
                case CheckpointRetention.Decision.Delete k -> "deleted at the next retention";
            };
            out.printf("  %-36s %8.1f MB  %-30s %s%s%n", d.id(), store.sizeOf(d.id()) / 1e6, what, d.reason(), kind);
        }
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
