package io.spinstream.cli;

import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.DevStack;
import io.spinstream.runtime.PollingService;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The three services on a tiny model for 50 verdicts (each a pass of training, a candidate and its
 * evaluation; a rejection rolls back and trains again, a promotion starts a round): one promotion per
 * round, each prompt answered once per round, each candidate judged once, and what a long run must not
 * grow without bound measured at the 10th and the 50th verdict: heap after a GC, resident memory beside the heap, the pair
 * joiner's state stores, and the checkpoint store, which keeps the promoted opponents and a few others
 * (retention) with no leftover temporary folders.
 */
@BrokerTest
@Tag("fault")
class SoakTest {
    private static final int ROUNDS = 50;

    private record Sample(int round, double heapMb, double rssMb, double stateMb, double storeMb, long storeFolders,
                          long optimiserStates, int promotions) {
        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT, "| %d | %.1f | %.1f | %.2f | %.2f | %d | %d | %d |", round, heapMb,
                    rssMb, stateMb, storeMb, storeFolders, optimiserStates, promotions);
        }
    }

    @Test
    void fiftyRoundsStayBounded(DevStack stack, @TempDir Path dir) throws Exception {
        SpinFixtures f = new SpinFixtures(stack, dir.resolve("store"), ThreeServices.keys(), Map.ofEntries(
                Map.entry("SPIN_HELDOUT_SHARE", "0.3"),
                Map.entry("SPIN_CHECKPOINT_STORE", dir.resolve("store").toString()),
                Map.entry("SPIN_TRAINER_STATE_DIR", dir.resolve("streams").toString()),
                Map.entry("SPIN_GENERATOR_BATCH_SIZE", "8"),
                Map.entry("SPIN_GENERATOR_MAX_NEW_TOKENS", "4"),
                Map.entry("SPIN_TRAINER_BATCH_SIZE", "4"),
                Map.entry("SPIN_TRAINER_CHECKPOINT_EVERY_STEPS", "1000"),
                Map.entry("SPIN_TRAINER_IDLE_MS", "800"),
                Map.entry("SPIN_TRAINER_PROGRESS_MS", "60000"),
                Map.entry("SPIN_TRAINER_LR", "1e-3"),
                Map.entry("SPIN_GATE_GUARDS", ""),
                // A rejected candidate is trained again from the opponent at half the rate: every verdict leads to
                // another candidate, promoted or not, so the run never stands still.
                Map.entry("SPIN_TRAINER_REJECTION_POLICY", "rollback"),
                Map.entry("SPIN_TRAINER_REJECTION_ROLLBACK_AFTER", "1"),
                Map.entry("SPIN_GATE_MIN_PROMPTS", "3"),
                Map.entry("SPIN_EVALUATOR_SUITES", "nll"),
                Map.entry("SPIN_EVALUATOR_REQUIRED_SUITES", "nll"),
                Map.entry("SPIN_EVALUATOR_MAX_NEW_TOKENS", "4")));
        f.promote(f.checkpoint("base", 1), 0);
        List<Prompt> prompts = IntStream.range(0, 20).mapToObj(i -> SpinFixtures.prompt("arith", "s" + i, i + "+1=",
                String.valueOf(i + 1))).toList();
        f.produce("arith", prompts, List.of());
        List<PollingService> services = ThreeServices.start(f);
        List<Sample> samples = new ArrayList<>();
        long t0 = System.nanoTime();
        try {
            for (int target : new int[]{10, ROUNDS}) {
                List<Evaluation> verdicts = f.read(f.topics.evaluations(), l -> l.size() >= target,
                        Duration.ofSeconds(12L * target));
                assertThat(verdicts).as("verdicts by now (after %.0f s)", (System.nanoTime() - t0) / 1e9)
                        .hasSizeGreaterThanOrEqualTo(target);
                services.forEach(s -> assertThat(s.deadBecause()).isEmpty());
                samples.add(sample(target, dir, f.readAllAfter(f.topics.opponent(), Duration.ofSeconds(1)).size() - 1));
            }
        } finally {
            services.forEach(PollingService::stop);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        List<OpponentPromotion> opponents = f.readAll(f.topics.opponent());
        System.out.printf("soak: %d verdicts (%d promotions) in %.0f s (%.1f s a verdict)%n"
                + "| verdicts | heap MB | RSS beside the heap MB | joiner state MB | store MB | store folders | with optimiser state | promotions |%n",
                ROUNDS, opponents.size() - 1, seconds, seconds / ROUNDS);
        samples.forEach(System.out::println);
        services.forEach(s -> assertThat(s.failure()).isNull());

        assertThat(opponents).extracting(OpponentPromotion::getRound).as("one promotion per round")
                .doesNotHaveDuplicates().startsWith(0, 1, 2, 3);
        List<Evaluation> verdicts = f.readAll(f.topics.evaluations());
        assertThat(verdicts.stream().map(Evaluation::getCheckpointId)).as("each candidate judged once").doesNotHaveDuplicates();
        List<SyntheticResponse> answers = f.readAll(f.topics.synthetic());
        assertThat(answers.stream().map(a -> a.getRound() + "/" + a.getPromptId())).as("each prompt once per round")
                .doesNotHaveDuplicates();

        Sample early = samples.get(0);
        Sample late = samples.get(1);
        assertThat(late.heapMb() - early.heapMb()).as("heap growth from round 10 to 50, MB").isLessThan(64);
        assertThat(late.rssMb() - early.rssMb()).as("growth of resident memory beside the heap, 10th to 50th verdict, MB")
                .isLessThan(300);
        assertThat(late.stateMb()).as("pair joiner state, MB").isLessThan(64);
        try (Stream<Path> entries = Files.list(dir.resolve("store"))) {
            assertThat(entries.map(p -> p.getFileName().toString())).as("no temporary folders left")
                    .noneMatch(n -> n.startsWith("."));
        }
        // Retention (spin.checkpoint.keep 3): the promoted opponents and the base, 3 others, and the round's open
        // candidates with its resume point; only the last keep their optimiser state.
        assertThat(late.storeFolders()).as("store folders at the 50th verdict").isLessThanOrEqualTo(late.promotions() + 1 + 3 + 3);
        assertThat(late.optimiserStates()).as("checkpoints with an optimiser state").isLessThanOrEqualTo(3);
        assertThat(early.optimiserStates()).isLessThanOrEqualTo(3);
    }

    private static Sample sample(int round, Path dir, int promotions) throws IOException {
        System.gc();
        var heapUsage = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
        double heap = heapUsage.getUsed() / 1e6;
        double rss = 0;
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                rss = Long.parseLong(line.replaceAll("\\D", "")) / 1e3;
            }
        }
        // Resident memory beside the Java heap: the heap's own size is the collector's choice (it grows back
        // after other tests of this JVM shrank it), native memory that keeps growing would be a leak.
        rss -= heapUsage.getCommitted() / 1e6;
        long folders;
        try (Stream<Path> s = Files.list(dir.resolve("store"))) {
            folders = s.filter(Files::isDirectory).count();
        }
        FileCensus store = FileCensus.of(dir.resolve("store"));
        return new Sample(round, heap, rss, FileCensus.of(dir.resolve("streams")).bytes() / 1e6, store.bytes() / 1e6,
                folders, store.named("training_state.safetensors"), promotions);
    }

    /** Sizes and names of the regular files under a folder that the running services keep changing. */
    private record FileCensus(long bytes, Map<String, Long> byName) {

        long named(String name) {
            return byName.getOrDefault(name, 0L);
        }

        /**
         * The trainer renames and deletes folders while the walk runs (a retired checkpoint goes to a
         * {@code .tmp-deleted-} name first): an entry gone between its listing and its visit is skipped, not an error.
         */
        static FileCensus of(Path root) throws IOException {
            long[] bytes = {0};
            Map<String, Long> byName = new HashMap<>();
            if (!Files.exists(root)) {
                return new FileCensus(0, byName);
            }
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) {
                    if (attributes.isRegularFile()) {
                        bytes[0] += attributes.size();
                        byName.merge(file.getFileName().toString(), 1L, Long::sum);
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                    if (e instanceof NoSuchFileException) {
                        return FileVisitResult.CONTINUE;
                    }
                    throw e;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path folder, IOException e) throws IOException {
                    if (e != null && !(e instanceof NoSuchFileException)) {
                        throw e;
                    }
                    return FileVisitResult.CONTINUE;
                }
            });
            return new FileCensus(bytes[0], byName);
        }
    }
}
