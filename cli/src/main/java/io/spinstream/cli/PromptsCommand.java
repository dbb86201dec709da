package io.spinstream.cli;

import io.spinstream.cli.ops.PromptFile;
import io.spinstream.runtime.SpinContext;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.Topic;
import me.tongfei.progressbar.ProgressBar;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import io.spinstream.runtime.kafka.PromptPublisher;
import org.apache.kafka.common.TopicPartition;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;

/** {@code spin prompts add|list}: prompt streams. */
@Command(name = "prompts", mixinStandardHelpOptions = true, description = "Prompt streams.",
        subcommands = {PromptsCommand.Add.class, PromptsCommand.ListStreams.class})
public final class PromptsCommand implements Runnable {

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    @Command(name = "add", mixinStandardHelpOptions = true,
            description = {"Creates the stream's topic if needed and adds the prompts of a JSON Lines file.",
                    "Every line is checked first; with a bad line nothing is written. All lines go in one transaction."})
    static final class Add implements Callable<Integer> {
        @Mixin
        ClusterOptions cluster;

        @Option(names = "--stream", required = true, description = "Stream name (letters, digits, '_', '-').")
        String stream;

        @Option(names = "--file", required = true, description = {"JSON Lines of SFT examples: chat ({\"messages\": [...]}),",
                "prompt/completion, Alpaca (instruction, input, output) or prompt_id/prompt/human_response; each may carry a task."})
        Path file;

        @Option(names = "--format", defaultValue = "auto", paramLabel = "FORMAT",
                description = "auto (decided from the first record), spin, chat, prompt-completion or alpaca (default: ${DEFAULT-VALUE}).")
        String format;

        @Override
        public Integer call() throws Exception {
            SpinContext context = cluster.context(List.of());
            Topic<String, Prompt> topic = context.topics().prompts(stream);
            PromptFile.Format requested;
            try {
                requested = PromptFile.Format.parse(format);
            } catch (IllegalArgumentException e) {
                System.err.println("spin prompts add: --format " + e.getMessage());
                return 2;
            }
            PromptFile parsed = PromptFile.read(file, stream, requested);
            if (requested == PromptFile.Format.AUTO && parsed.format() != PromptFile.Format.AUTO) {
                System.out.println("format: " + parsed.format().key() + " (decided from the file's first record)");
            }
            if (!parsed.problems().isEmpty()) {
                System.err.println("spin prompts add: " + file + " has " + parsed.problems().size() + " bad line(s); nothing was written:");
                parsed.problems().forEach(p -> System.err.println("  " + p));
                return 1;
            }
            try (ProgressBar bar = new ProgressBar("prompts → " + topic.name(), parsed.prompts().size())) {
                new PromptPublisher(context).publish(stream, parsed.prompts(), bar::stepTo);
            }
            System.out.println("added " + parsed.prompts().size() + " prompts to " + topic.name());
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Prompt streams and their record counts.")
    static final class ListStreams implements Callable<Integer> {
        @Mixin
        ClusterOptions cluster;

        @Override
        public Integer call() throws Exception {
            SpinContext context = cluster.context(List.of());
            try (Admin admin = Admin.create(context.kafka().admin())) {
                List<String> streams = admin.listTopics().names().get(30, TimeUnit.SECONDS).stream()
                        .filter(t -> context.topics().promptsPattern().matcher(t).matches()).sorted().toList();
                System.out.printf("%-30s %-40s %10s %10s%n", "STREAM", "TOPIC", "RECORDS", "PROMPTS");
                for (String t : streams) {
                    long[] n = count(context, t);
                    System.out.printf("%-30s %-40s %10d %10d%n", context.topics().streamOf(t), t, n[0], n[1]);
                }
            }
            return 0;
        }

        /**
         * Committed data records and distinct prompt ids, by reading the topic (offsets would also count
         * transaction markers, and a compacted topic may still hold superseded versions).
         */
        static long[] count(SpinContext context, String topic) {
            long records = 0;
            Set<String> ids = new HashSet<>();
            try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(context.kafka().groupLessConsumer())) {
                List<TopicPartition> partitions = c.partitionsFor(topic).stream()
                        .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
                c.assign(partitions);
                c.seekToBeginning(partitions);
                var end = c.endOffsets(partitions);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                while (partitions.stream().anyMatch(tp -> c.position(tp) < end.get(tp)) && System.nanoTime() < deadline) {
                    for (var r : c.poll(Duration.ofMillis(200))) {
                        if (r.value() != null) {
                            records++;
                            ids.add(r.key() == null ? "" : new String(r.key(), StandardCharsets.UTF_8));
                        }
                    }
                }
            }
            return new long[]{records, ids.size()};
        }
    }
}
