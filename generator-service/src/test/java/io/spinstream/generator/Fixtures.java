package io.spinstream.generator;

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
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.kafka.KafkaSettings;
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

import java.nio.charset.StandardCharsets;
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

/** A catalogue of its own on the shared stack, a tiny opponent checkpoint, and helpers to feed and read topics. */
final class Fixtures {
    final DevStack stack;
    final String prefix;
    final String runId = "run-" + UUID.randomUUID().toString().substring(0, 6);
    final Topics topics;
    final KafkaSettings kafka;
    final CheckpointStore store;

    Fixtures(DevStack stack, Path storeRoot) {
        this.stack = stack;
        this.prefix = "gen" + UUID.randomUUID().toString().substring(0, 8);
        this.kafka = KafkaSettings.of(stack.bootstrapServers());
        this.topics = SpinContext.from(config(Map.of())).topics();
        this.store = new CheckpointStore(storeRoot);
        provision(List.of("arith"));
    }

    Map<String, String> env(Map<String, String> extra) {
        Map<String, String> env = new HashMap<>(Map.of(
                "SPIN_BOOTSTRAP_SERVERS", stack.bootstrapServers(),
                "SPIN_REGISTRY_URL", stack.registryUrl(),
                "SPIN_TOPIC_PREFIX", prefix,
                "SPIN_RUN_ID", runId,
                "SPIN_METRICS_PORT", "0",
                "SPIN_METADATA_MAX_AGE_MS", "1000",
                "SPIN_GENERATOR_BATCH_SIZE", "8",
                "SPIN_GENERATOR_BATCH_WAIT_MS", "100",
                "SPIN_GENERATOR_MAX_NEW_TOKENS", "8",
                "SPIN_HELDOUT_SHARE", "0.2"));
        env.putAll(extra);
        return env;
    }

    ServiceConfig config(Map<String, String> extra) {
        return ServiceConfig.load(ServiceLauncher.keys(GeneratorKeys.all()), env(extra), Optional.empty(), Map.of());
    }

    void provision(List<String> streams) {
        try (Admin admin = Admin.create(kafka.admin())) {
            TopicProvisioner p = new TopicProvisioner(admin, new SchemaRegistrar(stack.registryUrl()));
            p.ensure(topics.fixed());
            p.ensure(streams.stream().map(topics::prompts).toList());
        }
    }

    /** A tiny random Llama with a byte-level tokenizer, saved under {@code id}. */
    CheckpointMetadata checkpoint(String id, long seed) {
        Path tokenizer = store.root().resolveSibling("tokenizer-" + id + ".json");
        ByteLevelBpe.write(tokenizer, ByteLevelBpe.bytesOnly());
        try (NDManager m = NDManager.newBaseManager();
             LlamaModel model = LlamaModel.random(LlamaConfig.tiny(259, 32, 2, 4, 2, 64), m, seed, DataType.FLOAT32)) {
            tokenizer.getParent().toFile().mkdirs();
            return store.save(model, tokenizer, CheckpointMetadata.of(id, null, 0, 0, null, null));
        }
    }

    OpponentPromotion promote(CheckpointMetadata ckpt, int round) throws Exception {
        OpponentPromotion p = OpponentPromotion.newBuilder().setRunId(runId).setCheckpointId(ckpt.id()).setRound(round)
                .setUri(store.directoryOf(ckpt.id()).toUri().toString()).setSha256(ckpt.sha256())
                .setCreatedAt(Instant.now()).build();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(kafka.idempotentProducer())) {
            producer.send(new ProducerRecord<>(topics.opponent().name(), runId.getBytes(StandardCharsets.UTF_8),
                    topics.opponent().serializeValue(p))).get();
        }
        return p;
    }

    static Prompt prompt(String stream, String id, String text, String human) {
        return Prompt.newBuilder().setPromptId(id).setStream(stream).setPrompt(text).setHumanResponse(human)
                .setTask(TaskMetadata.newBuilder().setKind("addition").setVerifiable(true).build())
                .setCreatedAt(Instant.EPOCH).build();
    }

    void produce(String stream, List<Prompt> prompts, List<byte[]> rawValues) throws Exception {
        var topic = topics.prompts(stream);
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(kafka.idempotentProducer())) {
            for (Prompt p : prompts) {
                producer.send(new ProducerRecord<>(topic.name(), p.getPromptId().getBytes(StandardCharsets.UTF_8),
                        topic.serializeValue(p)));
            }
            for (byte[] raw : rawValues) {
                producer.send(new ProducerRecord<>(topic.name(), "raw".getBytes(StandardCharsets.UTF_8), raw));
            }
            producer.flush();
        }
    }

    /** Committed answers, read until {@code done} holds or the timeout passes. */
    List<SyntheticResponse> answers(Predicate<List<SyntheticResponse>> done, Duration timeout) {
        List<SyntheticResponse> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(kafka.readCommittedConsumer("reader-" + UUID.randomUUID()))) {
            c.subscribe(List.of(topics.synthetic().name()));
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!done.test(out) && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                    out.add(topics.synthetic().deserializeValue(r.value()));
                }
            }
        }
        return out;
    }

    List<io.spinstream.schemas.DeadLetter> deadLetters(int atLeast, Duration timeout) {
        List<io.spinstream.schemas.DeadLetter> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(kafka.readCommittedConsumer("dlq-" + UUID.randomUUID()))) {
            c.subscribe(List.of(topics.deadLetters().name()));
            long deadline = System.nanoTime() + timeout.toNanos();
            while (out.size() < atLeast && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                    out.add(topics.deadLetters().deserializeValue(r.value()));
                }
            }
        }
        return out;
    }
}
