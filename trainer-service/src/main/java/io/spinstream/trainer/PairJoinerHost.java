package io.spinstream.trainer;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import io.spinstream.runtime.Backoff;
import io.spinstream.runtime.FaultKind;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.deadletter.DeadLetterDeserializationHandler;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.Topics;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Properties;

/** Runs the {@link PairJoiner} topology as Kafka Streams (exactly-once) beside the trainer. */
final class PairJoinerHost implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PairJoinerHost.class);

    private final KafkaStreams streams;
    private volatile boolean failed;

    PairJoinerHost(SpinContext context, HeldOutSplit split, Path stateDir, MeterRegistry metrics) {
        Topics topics = context.topics();
        Properties props = new Properties();
        props.putAll(context.kafka().exactlyOnceStreams(topics.pairJoinerGroup(), stateDir,
                topics.layout().replicationFactor()));
        props.putAll(DeadLetterDeserializationHandler.settings(topics.prefix(), context.registry(),
                "pair-joiner:" + context.instanceId()));
        streams = new KafkaStreams(PairJoiner.topology(topics, split, Clock.systemUTC()), props);
        new KafkaStreamsMetrics(streams).bindTo(metrics);
        // A prompt stream created while the joiner runs can reach a task before the thread's pattern
        // subscription knows it ("Topic ... is unknown to the topology"); a fresh thread resolves the pattern
        // again. Repeated failures within a minute end the joiner, and the trainer with it.
        Deque<Long> replaced = new ArrayDeque<>();
        Backoff outage = Backoff.standard();
        streams.setUncaughtExceptionHandler(e -> {
            if (FaultKind.isTransient(e)) {
                // The registry or the broker cannot be reached: wait, then a fresh thread reads from the committed
                // offsets again. An outage, however long, never ends the joiner.
                log.warn("pair joiner thread failed on a transient fault ({}); replacing it after {}", e.toString(), outage.peek());
                try {
                    outage.pause();
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                }
                return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.REPLACE_THREAD;
            }
            outage.reset();
            long now = System.nanoTime();
            replaced.removeIf(t -> now - t > 60_000_000_000L);
            if (replaced.size() >= 5) {
                log.error("pair joiner failed 5 times within a minute; stopping it: {}", e.toString(), e);
                return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
            }
            replaced.add(now);
            log.warn("pair joiner thread failed ({}); replacing it", e.toString());
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.REPLACE_THREAD;
        });
        streams.setStateListener((next, before) -> failed |= next == KafkaStreams.State.ERROR);
        streams.start();
    }

    /** Without the pair joiner no pair would ever come: fail the trainer (and its readiness) instead of waiting. */
    void check() {
        if (failed) {
            throw new IllegalStateException("the pair joiner (Kafka Streams) stopped in state ERROR; see the log above");
        }
    }

    @Override
    public void close() {
        streams.close();
    }
}
