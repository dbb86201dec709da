package io.spinstream.schemas;

import org.apache.avro.Schema;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;

import java.util.List;
import java.util.regex.Pattern;

/**
 * The typed topic catalogue: every topic of the system with its key and value serdes and settings.
 * Every service and the command line name topics only through this class.
 *
 * <pre>
 * PREFIX.prompts.STREAM   prompt_id     Prompt             compacted, one topic per stream
 * PREFIX.synthetic        prompt_id     SyntheticResponse  delete
 * PREFIX.pairs            prompt_id     TrainingPair       delete
 * PREFIX.checkpoints      checkpoint_id CheckpointEvent    delete, long retention
 * PREFIX.evaluations      checkpoint_id Evaluation         delete, long retention
 * PREFIX.opponent         run id        OpponentPromotion  compacted (latest value is the opponent)
 * PREFIX.dead-letters     original key  DeadLetter         delete
 * PREFIX.lion.train       prompt_id     Prompt             compacted: Lion's train pool (prompts the teacher answers)
 * PREFIX.lion.cache       prompt_id     Prompt             compacted: Lion's cache pool (prompts teacher and student are judged on)
 * PREFIX.lion.judgements  prompt_id     LionJudgement      delete: one per cache prompt and student round
 * </pre>
 */
public final class Topics {
    public static final String DEFAULT_PREFIX = "spin";
    private static final Pattern LEGAL_PREFIX = Pattern.compile("[a-zA-Z0-9_-]+(\\.[a-zA-Z0-9_-]+)*");
    private static final Pattern LEGAL_STREAM = Pattern.compile("[a-zA-Z0-9_-]{1,100}");
    private static final long WEEK_MS = 7L * 24 * 3600 * 1000;
    private static final long KEEP_FOREVER = -1;

    private final String prefix;
    private final Layout layout;
    private final AvroSerdes serdes;
    private final Topic<String, SyntheticResponse> synthetic;
    private final Topic<String, TrainingPair> pairs;
    private final Topic<String, CheckpointEvent> checkpoints;
    private final Topic<String, Evaluation> evaluations;
    private final Topic<String, OpponentPromotion> opponent;
    private final Topic<byte[], DeadLetter> deadLetters;
    private final Topic<String, Prompt> lionTrain;
    private final Topic<String, Prompt> lionCache;
    private final Topic<String, LionJudgement> lionJudgements;
    private final java.util.Map<String, Topic<String, Prompt>> promptTopics = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * How many partitions the busy topics get and how many replicas every topic has: 1 on the dev stack,
     * typically 3 on a real cluster.
     */
    public record Layout(int partitions, short replicationFactor) {
        public static final Layout LOCAL = new Layout(4, (short) 1);

        public Layout {
            if (partitions < 1 || replicationFactor < 1) {
                throw new IllegalArgumentException("partitions and replication factor must be >= 1");
            }
        }
    }

    public Topics(String prefix, Layout layout, AvroSerdes serdes) {
        if (prefix == null || !LEGAL_PREFIX.matcher(prefix).matches() || prefix.length() > 150) {
            throw new IllegalArgumentException("topic prefix must be letters, digits, '_', '-' in dot-separated parts"
                    + " (at most 150 characters), got '" + prefix + "'");
        }
        this.prefix = prefix;
        this.layout = layout;
        this.serdes = serdes;
        short rf = layout.replicationFactor();
        int p = layout.partitions();
        this.synthetic = avro(prefix + ".synthetic", SyntheticResponse.getClassSchema(),
                TopicSettings.retained(p, rf, WEEK_MS));
        this.pairs = avro(prefix + ".pairs", TrainingPair.getClassSchema(), TopicSettings.retained(p, rf, WEEK_MS));
        this.checkpoints = avro(prefix + ".checkpoints", CheckpointEvent.getClassSchema(),
                TopicSettings.retained(1, rf, KEEP_FOREVER));
        this.evaluations = avro(prefix + ".evaluations", Evaluation.getClassSchema(),
                TopicSettings.retained(1, rf, KEEP_FOREVER));
        this.opponent = avro(prefix + ".opponent", OpponentPromotion.getClassSchema(), TopicSettings.compacted(1, rf));
        // Dead letters keep the original key bytes as they were: the key may be what failed to read.
        this.deadLetters = new Topic<>(prefix + ".dead-letters", Serdes.ByteArray(), serdes.value(),
                TopicSettings.retained(1, rf, 4 * WEEK_MS), DeadLetter.getClassSchema());
        this.lionTrain = avro(prefix + ".lion.train", Prompt.getClassSchema(), TopicSettings.compacted(p, rf));
        this.lionCache = avro(prefix + ".lion.cache", Prompt.getClassSchema(), TopicSettings.compacted(p, rf));
        this.lionJudgements = avro(prefix + ".lion.judgements", LionJudgement.getClassSchema(), TopicSettings.retained(p, rf, 4 * WEEK_MS));
    }

    private <V extends SpecificRecord> Topic<String, V> avro(String name, Schema schema, TopicSettings settings) {
        Serde<V> value = serdes.value();
        return new Topic<>(name, Serdes.String(), value, settings, schema);
    }

    /** The consumer group of round {@code round}'s generators: a promotion starts a full pass in a new group. */
    public String generatorGroup(int round) {
        return prefix + "-generator-r" + round;
    }

    /** The pair joiner's Kafka Streams application id, which is also its consumer group. */
    public String pairJoinerGroup() {
        return prefix + "-pair-joiner";
    }

    public String prefix() {
        return prefix;
    }

    public Layout layout() {
        return layout;
    }

    /** The prompt stream {@code <prefix>.prompts.<stream>}. */
    public Topic<String, Prompt> prompts(String stream) {
        if (stream == null || !LEGAL_STREAM.matcher(stream).matches()) {
            throw new IllegalArgumentException("stream name must be 1-100 letters, digits, '_' or '-', got '" + stream + "'");
        }
        // One Topic (and so one serde with its schema cache) per stream: a fresh serde per record would ask
        // the registry for the schema on every record.
        return promptTopics.computeIfAbsent(stream, s -> avro(promptsPrefix() + s, Prompt.getClassSchema(),
                TopicSettings.compacted(layout.partitions(), layout.replicationFactor())));
    }

    /** Matches every prompt stream's topic, for pattern subscriptions. */
    public Pattern promptsPattern() {
        return Pattern.compile(Pattern.quote(promptsPrefix()) + "[a-zA-Z0-9_-]+");
    }

    /** The stream name of a prompt topic, or throws if the topic is not one. */
    public String streamOf(String topic) {
        if (!promptsPattern().matcher(topic).matches()) {
            throw new IllegalArgumentException(topic + " is not a prompt stream topic of prefix " + prefix);
        }
        return topic.substring(promptsPrefix().length());
    }

    private String promptsPrefix() {
        return prefix + ".prompts.";
    }

    public Topic<String, SyntheticResponse> synthetic() {
        return synthetic;
    }

    public Topic<String, TrainingPair> pairs() {
        return pairs;
    }

    public Topic<String, CheckpointEvent> checkpoints() {
        return checkpoints;
    }

    public Topic<String, Evaluation> evaluations() {
        return evaluations;
    }

    public Topic<String, OpponentPromotion> opponent() {
        return opponent;
    }

    public Topic<byte[], DeadLetter> deadLetters() {
        return deadLetters;
    }

    /** Lion's train pool: prompts the teacher answers for the student to imitate. */
    public Topic<String, Prompt> lionTrain() {
        return lionTrain;
    }

    /** Lion's cache pool: prompts the teacher and the student answer for the referee. */
    public Topic<String, Prompt> lionCache() {
        return lionCache;
    }

    public Topic<String, LionJudgement> lionJudgements() {
        return lionJudgements;
    }

    /** The prompt stream Lion's imitation writes (prompts with the teacher's answer as the response). */
    public static final String LION_STREAM = "lion";

    /** Lion's topics, made by the Lion service (the SPIN services do not need them). */
    public List<Topic<?, ?>> lion() {
        return List.of(lionTrain, lionCache, lionJudgements, prompts(LION_STREAM));
    }

    /** The fixed topics (prompt streams are added at run time). */
    public List<Topic<?, ?>> fixed() {
        return List.of(synthetic, pairs, checkpoints, evaluations, opponent, deadLetters);
    }
}
