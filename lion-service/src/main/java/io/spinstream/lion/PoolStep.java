package io.spinstream.lion;

import io.micrometer.core.instrument.MeterRegistry;
import io.spinstream.runtime.PollingService;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.deadletter.DeadLetters;
import io.spinstream.runtime.kafka.ExactlyOnceLoop;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One of Lion's consume-transform-produce steps: it reads a pool topic in a consumer group, transforms each
 * batch (asking the models it needs) and commits what it writes, its dead letters and the batch's offsets in one
 * transaction. A transient fault (a model server, the broker or the registry unreachable) forgets the batch,
 * rewinds and backs off: nothing is written twice or lost. The group may change (a new student starts a new
 * discrimination pass): the step then reads anew in the new group.
 */
abstract class PoolStep extends PollingService {
    private static final Logger log = LoggerFactory.getLogger(PoolStep.class);

    protected final SpinContext context;
    protected final MeterRegistry metrics;
    protected final DeadLetters deadLetters;
    private final String name;
    private final int batchSize;

    /**
     * What a batch becomes: records to write and dead letters, committed with its offsets, and what it counts
     * (counters {@code spin.lion.<name>}, added once the transaction has committed).
     */
    protected record Output(List<ProducerRecord<byte[], byte[]>> records, List<ProducerRecord<byte[], byte[]>> deadLetters,
                            Map<String, Long> counts) {
    }

    PoolStep(String name, SpinContext context, MeterRegistry metrics, int batchSize) {
        super("lion-" + name, Duration.ofSeconds(60));
        this.name = name;
        this.context = context;
        this.metrics = metrics;
        this.batchSize = batchSize;
        this.deadLetters = new DeadLetters(context.topics().deadLetters(), "lion-" + name + ":" + context.instanceId(), Clock.systemUTC());
    }

    /** The group to read in now; empty while there is nothing to do yet (no student promoted). */
    protected abstract Optional<String> group();

    protected abstract String topic();

    protected abstract Output transform(List<ConsumerRecord<byte[], byte[]>> batch) throws Exception;

    /** Called once before the first poll (where a step opens what it keeps for good). */
    protected void begin() throws Exception {
    }

    /** Called once the loop ends. */
    protected void end() {
    }

    @Override
    protected final void work() throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(context.kafka().transactionalProducer(
                context.topics().prefix() + "-lion-" + name + "-" + context.instanceId()))) {
            producer.initTransactions();
            begin();
            while (running()) {
                Optional<String> group = group();
                if (group.isEmpty()) {
                    ready(false);
                    Thread.sleep(200);
                    continue;
                }
                read(group.get(), producer);
            }
        } finally {
            end();
        }
    }

    private void read(String group, KafkaProducer<byte[], byte[]> producer) throws Exception {
        Map<String, Object> props = context.kafka().readCommittedConsumer(group);
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, batchSize);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, group + "-" + context.instanceId());
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(props)) {
            log.info("lion {}: reading {} in group {}", name, topic(), group);
            ExactlyOnceLoop.Settings loop = ExactlyOnceLoop.Settings.perPoll("lion " + name, Duration.ofMillis(200),
                    () -> metrics.counter("spin.lion.transient.faults", "step", name).increment());
            new ExactlyOnceLoop(worker(), c, producer, loop, (batch, session) -> {
                Output out = transform(batch);
                List<ProducerRecord<byte[], byte[]>> all = new ArrayList<>(out.records());
                all.addAll(out.deadLetters());
                return new ExactlyOnceLoop.Output(all, () -> {
                    metrics.counter("spin.lion.dead.letters", "step", name).increment(out.deadLetters().size());
                    out.counts().forEach((k, v) -> metrics.counter("spin.lion." + k).increment(v));
                });
            }).subscribe(List.of(topic())).run(() -> group().map(group::equals).orElse(false));
        }
    }
}
