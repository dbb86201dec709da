package io.spinstream.generator;

import ai.djl.ndarray.NDManager;
import io.spinstream.runtime.Backoff;
import io.spinstream.runtime.opponent.Opponent;
import io.spinstream.runtime.opponent.OpponentModel;
import io.spinstream.runtime.opponent.OpponentSource;
import io.spinstream.schemas.OpponentPromotion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.function.Consumer;

/**
 * The opponent the generator answers with: each promoted one loaded in place of the last (a LoRA opponent over the
 * one in memory comes as its adapter alone, merged in place). One that cannot be loaded yet (its files still
 * arriving on a shared volume) is tried again, backing off, until it loads or another is promoted.
 */
final class OpponentSwitch implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(OpponentSwitch.class);

    private final OpponentSource source;
    private final GeneratorMetrics metrics;
    private final Consumer<Boolean> ready;
    private final Backoff refusals = Backoff.standard();
    private volatile OpponentModel current; // read by the lag watcher's thread too

    OpponentSwitch(OpponentSource source, GeneratorMetrics metrics, Consumer<Boolean> ready) {
        this.source = source;
        this.metrics = metrics;
        this.ready = ready;
    }

    /** The loaded opponent's id; "" before the first. */
    String currentId() {
        return current == null ? "" : current.id();
    }

    OpponentModel current() {
        return current;
    }

    /** Loads the promoted opponent; false (after a back-off, not ready meanwhile) when it cannot be loaded yet. */
    boolean to(OpponentPromotion next, NDManager manager) throws InterruptedException {
        OpponentModel previous = current;
        current = null;
        try {
            long t0 = System.nanoTime();
            Object before = previous instanceof Opponent o ? o.checkpoint().model() : null;
            current = source.next(previous, next, manager);
            refusals.reset();
            log.info("opponent {} loaded in {} ms{}", current.id(), (System.nanoTime() - t0) / 1_000_000,
                    current instanceof Opponent o && o.checkpoint().model() == before
                            ? " (its LoRA adapter merged into " + previous.id() + ")" : "");
        } catch (RuntimeException e) {
            ready.accept(false);
            log.error("cannot load opponent {}: {}; no answers until it loads (trying again in {})",
                    next.getCheckpointId(), e.getMessage(), refusals.peek());
            metrics.opponentRefused();
            refusals.pause();
            return false;
        }
        metrics.opponent(current.round());
        return true;
    }

    @Override
    public void close() {
        if (current != null) {
            current.close();
        }
    }
}
