package io.spinstream.runtime.testing;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.spinstream.devstack.DevStack;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.tokenizer.ByteLevelBpe;
import io.spinstream.runtime.ServiceLauncher;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.config.ConfigKey;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.kafka.KafkaSettings;
import io.spinstream.schemas.ChatTurn;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SchemaRegistrar;
import io.spinstream.schemas.SyntheticResponse;
import io.spinstream.schemas.TaskMetadata;
import io.spinstream.schemas.TopicProvisioner;
import io.spinstream.schemas.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Predicate;

/**
 * For services' integration tests: a catalogue of its own on the shared dev stack, tiny checkpoints, and
 * helpers to feed and read topics.
 */
public final class SpinFixtures {
    public final DevStack stack;
    public final String prefix;
    public final String runId = "run-" + UUID.randomUUID().toString().substring(0, 6);
    public final Topics topics;
    public final KafkaSettings kafka;
    public final CheckpointStore store;
    private final List<ConfigKey<?>> serviceKeys;
    private final Map<String, String> serviceDefaults;

    /**
     * @param serviceKeys     the service's own keys (beside the common ones)
     * @param serviceDefaults environment the service's tests run with unless a test says otherwise
     */
    public SpinFixtures(DevStack stack, Path storeRoot, List<ConfigKey<?>> serviceKeys, Map<String, String> serviceDefaults) {
        this.stack = stack;
        this.prefix = "t" + UUID.randomUUID().toString().substring(0, 8);
        this.kafka = KafkaSettings.of(stack.bootstrapServers());
        this.serviceKeys = serviceKeys;
        this.serviceDefaults = serviceDefaults;
        this.topics = SpinContext.from(config(Map.of())).topics();
        this.store = new CheckpointStore(storeRoot);
        provision(List.of("arith"));
    }

    public Map<String, String> env(Map<String, String> extra) {
        Map<String, String> env = new HashMap<>(Map.of(
                "SPIN_BOOTSTRAP_SERVERS", stack.bootstrapServers(),
                "SPIN_REGISTRY_URL", stack.registryUrl(),
                "SPIN_TOPIC_PREFIX", prefix,
                "SPIN_RUN_ID", runId,
                "SPIN_METRICS_PORT", "0",
                "SPIN_METADATA_MAX_AGE_MS", "1000",
                "SPIN_TEST_SHARE", "0")); // the tests split by their held-out share alone
        env.putAll(serviceDefaults);
        env.putAll(extra);
        return env;
    }

    public ServiceConfig config(Map<String, String> extra) {
        return ServiceConfig.load(ServiceLauncher.keys(serviceKeys), env(extra), Optional.empty(), Map.of());
    }

    public void provision(List<String> streams) {
        try (Admin admin = Admin.create(kafka.admin())) {
            TopicProvisioner p = new TopicProvisioner(admin, new SchemaRegistrar(stack.registryUrl()));
            p.ensure(topics.fixed());
            p.ensure(streams.stream().map(topics::prompts).toList());
        }
    }

    /** A tiny random Llama with a byte-level tokenizer, saved under {@code id}. */
    public CheckpointMetadata checkpoint(String id, long seed) {
        try (NDManager m = NDManager.newBaseManager(); LlamaModel model = tinyModel(m, seed)) {
            return checkpoint(id, null, model);
        }
    }

    /** The largest absolute difference between the two models' weights of the same name. */
    public static double maxWeightDifference(LlamaModel a, LlamaModel b) {
        return largestWeightDifference(a, b).difference();
    }

    /** Where two models' weights differ most: the parameter, the element, both values. */
    public record WeightDifference(String parameter, int index, float a, float b) {
        public double difference() {
            return Math.abs(a - b);
        }

        @Override
        public String toString() {
            return parameter + "[" + index + "]: " + a + " vs " + b;
        }
    }

    public static WeightDifference largestWeightDifference(LlamaModel a, LlamaModel b) {
        WeightDifference largest = new WeightDifference("nowhere", -1, 0, 0);
        for (var e : a.parameters().entrySet()) {
            float[] va = e.getValue().toFloatArray();
            float[] vb = b.parameters().get(e.getKey()).toFloatArray();
            for (int i = 0; i < va.length; i++) {
                if (Math.abs(va[i] - vb[i]) > largest.difference()) {
                    largest = new WeightDifference(e.getKey(), i, va[i], vb[i]);
                }
            }
        }
        return largest;
    }

    /** The tiny architecture every service test uses: byte-level vocabulary, 2 layers, 64 positions. */
    public static LlamaModel tinyModel(NDManager manager, long seed) {
        return LlamaModel.random(LlamaConfig.tiny(259, 32, 2, 4, 2, 64), manager, seed, DataType.FLOAT32);
    }

    /** Mistral-style: user and assistant must alternate, starting with the user; else the template raises. */
    public static final String ALTERNATING_TEMPLATE = "{{ bos_token }}{% for message in messages %}"
            + "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
            + "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
            + "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
            + "{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}";

    /** A prompt of two user turns in a row: what {@link #ALTERNATING_TEMPLATE} refuses. */
    public static Prompt twoUserTurns(String stream, String id) {
        Prompt p = prompt(stream, id, "1+1=", "2");
        p.setMessages(List.of(new ChatTurn("user", "hi"), new ChatTurn("user", "1+1=")));
        return p;
    }

    /**
     * A tiny random model saved as checkpoint {@code id} in {@code store}, its byte-level tokenizer beside a
     * tokenizer_config.json with {@code chatTemplate} (written in {@code dir}).
     */
    public static CheckpointMetadata withChatTemplate(CheckpointStore store, Path dir, String id, String chatTemplate) {
        try {
            Files.writeString(dir.resolve("tokenizer_config.json"), new ObjectMapper()
                    .writeValueAsString(Map.of("chat_template", chatTemplate, "bos_token", "", "eos_token", "")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return tinyCheckpoint(store, dir, id, 1);
    }

    /** {@link #tinyModel} of {@code seed} saved as checkpoint {@code id}, with a byte-level tokenizer written in {@code dir}. */
    public static CheckpointMetadata tinyCheckpoint(CheckpointStore store, Path dir, String id, long seed) {
        Path tokenizer = dir.resolve("tokenizer.json");
        ByteLevelBpe.write(tokenizer, ByteLevelBpe.bytesOnly());
        try (NDManager m = NDManager.newBaseManager(); LlamaModel model = tinyModel(m, seed)) {
            return store.save(model, tokenizer, CheckpointMetadata.of(id, null, 0, 0, null, null));
        }
    }

    /** Saves {@code model} with a byte-level tokenizer as checkpoint {@code id}, trained from {@code parent}. */
    public CheckpointMetadata checkpoint(String id, String parent, LlamaModel model) {
        Path tokenizer = store.root().resolveSibling("tokenizer-" + id + ".json");
        tokenizer.getParent().toFile().mkdirs();
        ByteLevelBpe.write(tokenizer, ByteLevelBpe.bytesOnly());
        return store.save(model, tokenizer, CheckpointMetadata.of(id, parent, 0, 0, null, null));
    }

    public Path tokenizerOf(String id) {
        return store.directoryOf(id).resolve(CheckpointStore.TOKENIZER);
    }

    public OpponentPromotion promote(CheckpointMetadata ckpt, int round) throws Exception {
        OpponentPromotion p = OpponentPromotion.newBuilder().setRunId(runId).setCheckpointId(ckpt.id()).setRound(round)
                .setUri(store.directoryOf(ckpt.id()).toUri().toString()).setSha256(ckpt.sha256())
                .setCreatedAt(Instant.now()).build();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(kafka.idempotentProducer())) {
            producer.send(topics.opponent().rawRecord(runId, p)).get();
        }
        return p;
    }

    public static Prompt prompt(String stream, String id, String text, String human) {
        return Prompt.newBuilder().setPromptId(id).setStream(stream).setPrompt(text).setHumanResponse(human)
                .setTask(TaskMetadata.newBuilder().setKind("addition").setVerifiable(true).build())
                .setCreatedAt(Instant.EPOCH).build();
    }

    public void produce(String stream, List<Prompt> prompts, List<byte[]> rawValues) throws Exception {
        var topic = topics.prompts(stream);
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(kafka.idempotentProducer())) {
            for (Prompt p : prompts) {
                producer.send(topic.rawRecord(p.getPromptId(), p));
            }
            for (byte[] raw : rawValues) {
                producer.send(new ProducerRecord<>(topic.name(), "raw".getBytes(StandardCharsets.UTF_8), raw));
            }
            producer.flush();
        }
    }

    /** Committed values of {@code topic}, read until {@code done} holds or the timeout passes. */
    public <V> List<V> read(io.spinstream.schemas.Topic<?, V> topic, Predicate<List<V>> done, Duration timeout) {
        List<V> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(kafka.readCommittedConsumer("reader-" + UUID.randomUUID()))) {
            c.subscribe(List.of(topic.name()));
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!done.test(out) && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                    out.add(topic.deserializeValue(r.value()));
                }
            }
        }
        return out;
    }

    /**
     * Every record committed on {@code topic} when called: read from the beginning up to each partition's
     * last stable offset, so the result does not depend on how fast a fresh consumer starts (a fixed read
     * time is not enough on a loaded machine).
     */
    public <V> List<V> readAll(io.spinstream.schemas.Topic<?, V> topic) {
        return new io.spinstream.runtime.kafka.TopicReader(kafka).values(topic);
    }

    /** {@link #readAll} after {@code wait}: what a late duplicate would have had time to join. */
    public <V> List<V> readAllAfter(io.spinstream.schemas.Topic<?, V> topic, Duration wait) throws InterruptedException {
        Thread.sleep(wait.toMillis());
        return readAll(topic);
    }

    /** Committed answers. */
    public List<SyntheticResponse> answers(Predicate<List<SyntheticResponse>> done, Duration timeout) {
        return read(topics.synthetic(), done, timeout);
    }

    public List<io.spinstream.schemas.DeadLetter> deadLetters(int atLeast, Duration timeout) {
        return read(topics.deadLetters(), l -> l.size() >= atLeast, timeout);
    }
}
