package io.spinstream.serve;

import ai.djl.ndarray.NDManager;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.opponent.Opponent;
import io.spinstream.runtime.opponent.OpponentWatcher;
import io.spinstream.schemas.OpponentPromotion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Optional;
import java.util.function.Supplier;

/**
 * The model being served: one checkpoint for good, or a run's opponent followed as it is promoted. A swap
 * happens when the model thread asks ({@link #refresh()}, between batches); the model it replaces stays open
 * until the swap after, since a request thread may still be encoding a prompt with its tokenizer.
 */
public final class ModelSlot implements Supplier<Opponent>, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ModelSlot.class);

    private final OpponentWatcher watcher; // null: a fixed checkpoint
    private final NDManager manager;
    private final PromptTemplate template;
    private final CheckpointLocation location;
    private volatile Opponent current;
    private Opponent retired;

    private ModelSlot(Opponent first, OpponentWatcher watcher, NDManager manager, PromptTemplate template, CheckpointLocation location) {
        this.current = first;
        this.watcher = watcher;
        this.manager = manager;
        this.template = template;
        this.location = location;
    }

    public static ModelSlot fixed(Opponent model) {
        return new ModelSlot(model, null, null, null, null);
    }

    /** Follows {@code watcher}'s run, waiting up to {@code waitMs} for its first opponent. */
    public static ModelSlot following(OpponentWatcher watcher, NDManager manager, PromptTemplate template, CheckpointLocation location,
                                      long waitMs) throws InterruptedException {
        Optional<OpponentPromotion> first = watcher.awaitOther("", waitMs);
        if (first.isEmpty()) {
            throw new IllegalStateException("the run has no opponent yet (none promoted within " + waitMs + " ms)");
        }
        return new ModelSlot(Opponent.load(first.get(), manager, template, location), watcher, manager, template, location);
    }

    @Override
    public Opponent get() {
        return current;
    }

    /** The model to answer the next batch with: the run's newest opponent, loaded if it changed. */
    public Opponent refresh() {
        if (watcher == null) {
            return current;
        }
        Optional<OpponentPromotion> latest = watcher.current();
        if (latest.isPresent() && !latest.get().getCheckpointId().equals(current.id())) {
            try {
                long t0 = System.nanoTime();
                Opponent next = Opponent.load(latest.get(), manager, template, location);
                if (retired != null) {
                    retired.close();
                }
                retired = current;
                current = next;
                log.info("now serving {} (round {}), loaded in {} ms", next.id(), next.round(), (System.nanoTime() - t0) / 1_000_000);
            } catch (RuntimeException e) {
                // Its files may still be arriving: keep serving the one loaded, try again before the next batch.
                log.warn("cannot load opponent {} yet ({}); still serving {}", latest.get().getCheckpointId(), e.getMessage(), current.id());
            }
        }
        return current;
    }

    @Override
    public void close() {
        current.close();
        if (retired != null) {
            retired.close();
        }
        if (watcher != null) {
            watcher.close();
        }
    }
}
