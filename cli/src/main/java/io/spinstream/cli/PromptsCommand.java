package io.spinstream.cli;

import io.spinstream.cli.ops.PromptFile;
import io.spinstream.runtime.SpinContext;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.Topic;
import me.tongfei.progressbar.ProgressBar;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import io.spinstream.runtime.kafka.PromptPublisher;
import org.apache.kafka.common.TopicPartition;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;

/** {@code spin prompts add|list}: prompt streams. */
@Command(name = "prompts", mixinStandardHelpOptions = true, description = "Prompt streams.",
        subcommands = {PromptsCommand.Add.class, PromptsCommand.ListStreams.class, PromptsCommand.Select.class})
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
            List<String> problems = new ArrayList<>(parsed.problems());
            // A record the broker would refuse aborts the transaction after the others were sent: refused here first.
            long accepted = acceptedRecordBytes(context, topic.name());
            problems.addAll(parsed.oversized(accepted, p -> topic.serializeValue(p).length
                    + (long) p.getPromptId().getBytes(StandardCharsets.UTF_8).length + RECORD_OVERHEAD));
            if (!problems.isEmpty()) {
                System.err.println("spin prompts add: " + file + " has " + problems.size() + " bad line(s); nothing was written:");
                problems.forEach(p -> System.err.println("  " + p));
                return 1;
            }
            try (ProgressBar bar = new ProgressBar("prompts → " + topic.name(), parsed.prompts().size())) {
                new PromptPublisher(context).publish(stream, parsed.prompts(), bar::stepTo);
            }
            System.out.println("added " + parsed.prompts().size() + " prompts to " + topic.name()
                    + (parsed.duplicates() > 0 ? " (" + parsed.duplicatesLine() + ")" : ""));
            return 0;
        }
    }

    /** A record batch's header and a record's own framing, beyond its key and value (Kafka's record format v2). */
    static final long RECORD_OVERHEAD = 61 + 21;

    /**
     * The largest record the stream's topic takes: its max.message.bytes (the broker's message.max.bytes while the
     * topic does not exist yet), and no more than the producer's max.request.size.
     */
    static long acceptedRecordBytes(SpinContext context, String topicName) throws Exception {
        Map<String, Object> producer = context.kafka().idempotentProducer();
        long request = Long.parseLong(String.valueOf(producer.getOrDefault(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 1048576)));
        try (Admin admin = Admin.create(context.kafka().admin())) {
            ConfigResource resource;
            String key;
            if (admin.listTopics().names().get(30, TimeUnit.SECONDS).contains(topicName)) {
                resource = new ConfigResource(ConfigResource.Type.TOPIC, topicName);
                key = TopicConfig.MAX_MESSAGE_BYTES_CONFIG;
            } else {
                String broker = admin.describeCluster().nodes().get(30, TimeUnit.SECONDS).iterator().next().idString();
                resource = new ConfigResource(ConfigResource.Type.BROKER, broker);
                key = "message.max.bytes";
            }
            Config config = admin.describeConfigs(List.of(resource)).all().get(30, TimeUnit.SECONDS).get(resource);
            ConfigEntry entry = config.get(key);
            long topic = entry == null || entry.value() == null ? request : Long.parseLong(entry.value());
            return Math.min(request, topic);
        }
    }

    @Command(name = "select", mixinStandardHelpOptions = true,
            description = {"Copies a small representative subset of a stream to another (coreset selection): prompts embedded",
                    "by a checkpoint (the mean of its final hidden states over the prompt, L2-normalised), grouped by k-means;",
                    "the prompt nearest each group's centre seeds k-center greedy, which adds the prompt farthest from those",
                    "chosen until there are k. Ids are kept; the same seed gives the same subset."})
    static final class Select implements Callable<Integer> {
        @Mixin
        ClusterOptions cluster;

        @Option(names = "--from", required = true, paramLabel = "STREAM", description = "The stream to choose from.")
        String from;

        @Option(names = "--to", required = true, paramLabel = "STREAM", description = "The stream the chosen prompts are added to.")
        String to;

        @Option(names = "--k", required = true, paramLabel = "N", description = "How many prompts to choose.")
        int k;

        @Option(names = "--method", defaultValue = "kcenter", description = "kcenter or random (default: ${DEFAULT-VALUE}).")
        String method;

        @Option(names = "--clusters", paramLabel = "C", description = "k-means groups seeding k-center (default: half of k, rounded up).")
        Integer clusters;

        @Option(names = "--checkpoint", paramLabel = "ID", description = "The checkpoint that embeds (default: the run's opponent).")
        String checkpoint;

        @Option(names = "--run", paramLabel = "RUN_ID", description = "The run whose opponent embeds (else SPIN_RUN_ID, default spin).")
        String run;

        @Option(names = "--store", paramLabel = "DIR", description = "Checkpoint store (else SPIN_CHECKPOINT_STORE).")
        Path store;

        @Option(names = "--seed", defaultValue = "0", description = "Seed of k-means' starts or of the random choice (default: ${DEFAULT-VALUE}).")
        long seed;

        @Override
        public Integer call() throws Exception {
            if (!method.equals("kcenter") && !method.equals("random")) {
                System.err.println("spin prompts select: --method must be kcenter or random, got '" + method + "'");
                return 2;
            }
            SpinContext context = cluster.context(io.spinstream.runtime.config.RoundKeys.all());
            io.spinstream.runtime.kafka.TopicReader reader = new io.spinstream.runtime.kafka.TopicReader(context.kafka());
            // The latest version of each prompt, in id order (partitions are read in no fixed order).
            java.util.TreeMap<String, Prompt> byId = new java.util.TreeMap<>();
            reader.values(context.topics().prompts(from)).forEach(p -> byId.put(p.getPromptId(), p));
            List<Prompt> pool = List.copyOf(byId.values());
            if (k < 1 || k > pool.size()) {
                System.err.println("spin prompts select: --k must be from 1 to the " + pool.size() + " prompts of stream " + from
                        + ", got " + k);
                return 2;
            }
            int[] chosen;
            if (method.equals("random")) {
                chosen = io.spinstream.model.coreset.CoresetSelection.random(pool.size(), k, seed);
            } else {
                int groups = clusters != null ? clusters : (k + 1) / 2;
                if (groups < 1 || groups > k) {
                    System.err.println("spin prompts select: --clusters must be from 1 to k (" + k + "), got " + groups);
                    return 2;
                }
                Path dir = embeddingCheckpoint(context, reader);
                try (ai.djl.ndarray.NDManager manager = ai.djl.ndarray.NDManager.newBaseManager();
                     io.spinstream.model.checkpoint.LoadedCheckpoint ckpt = io.spinstream.model.checkpoint.CheckpointStore.load(dir, manager);
                     io.spinstream.model.tokenizer.SpinTokenizer tokenizer = io.spinstream.model.tokenizer.SpinTokenizer.load(
                             ckpt.tokenizerJson(), io.spinstream.model.tokenizer.PromptTemplate.PLAIN, ckpt.model().config().eosTokenId());
                     ProgressBar bar = new ProgressBar("embedding (" + ckpt.metadata().id() + ")", pool.size())) {
                    List<int[]> ids = pool.stream().map(p -> tokenizer.encode(p.getPrompt())).toList();
                    double[][] points = new io.spinstream.model.coreset.PromptEmbedder(ckpt.model(), 16).embed(manager, ids, bar::stepTo);
                    chosen = io.spinstream.model.coreset.CoresetSelection.kCenter(points, k, groups, seed);
                }
            }
            List<Prompt> selected = java.util.Arrays.stream(chosen).mapToObj(i -> Prompt.newBuilder(pool.get(i)).setStream(to).build()).toList();
            try (ProgressBar bar = new ProgressBar("prompts → " + context.topics().prompts(to).name(), selected.size())) {
                new io.spinstream.runtime.kafka.PromptPublisher(context).publish(to, selected, bar::stepTo);
            }
            System.out.println("selected " + k + " of " + pool.size() + " prompts of stream " + from + " (" + method
                    + (method.equals("random") ? "" : ", " + (clusters != null ? clusters : (k + 1) / 2) + " k-means groups")
                    + ", seed " + seed + ") into stream " + to);
            return 0;
        }

        /** --checkpoint from the store, else the run's opponent as its promotion names it. */
        private Path embeddingCheckpoint(SpinContext context, io.spinstream.runtime.kafka.TopicReader reader) {
            if (checkpoint != null) {
                Path root = store != null ? store : StoreOption.fromEnvironment("spin prompts select");
                return new io.spinstream.model.checkpoint.CheckpointStore(root).directoryOf(checkpoint);
            }
            String runId = run != null ? run : context.config().get(io.spinstream.runtime.config.RoundKeys.RUN_ID);
            io.spinstream.schemas.OpponentPromotion o = reader.values(context.topics().opponent()).stream()
                    .filter(p -> p.getRunId().equals(runId)).reduce((a, b) -> b)
                    .orElseThrow(() -> new picocli.CommandLine.ParameterException(new picocli.CommandLine(new SpinCommand()),
                            "spin prompts select: run " + runId + " has no opponent yet: pass --checkpoint ID"));
            return java.nio.file.Path.of(java.net.URI.create(o.getUri()));
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
