package io.spinstream.serve;

import ai.djl.ndarray.NDManager;
import io.spinstream.inference.LoadedModel;
import io.spinstream.model.Precision;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.opponent.Opponent;
import io.spinstream.runtime.opponent.OpponentWatcher;
import io.spinstream.schemas.OpponentPromotion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The models being served: one checkpoint for good, or a run's opponent followed as it is promoted, and the
 * adapters loaded by name beside it ({@code /v1/load_lora_adapter}). A swap happens when the model thread asks
 * ({@link #refresh()}, between batches); the model it replaces stays open until the swap after, so that a
 * request that named it still ends on it, and so does a request thread still encoding a prompt with its tokenizer.
 */
public final class ModelSlot implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ModelSlot.class);

    private final OpponentWatcher watcher; // null: a fixed checkpoint
    private final NDManager manager;
    private final PromptTemplate template;
    private final CheckpointLocation location;
    private volatile LoadedModel current;
    private LoadedModel retired;
    private long nextTry; // model thread: when a load that failed is tried again
    private static final long RETRY_NANOS = 2_000_000_000L;
    // In access order: the first is the least recently used, unloaded when more than maxAdapters are held.
    private final Map<String, LoadedModel> adapters = new LinkedHashMap<>(16, 0.75f, true); // guarded by this
    private int maxAdapters = ServingLimits.DEFAULT.maxLoras(); // guarded by this
    private final List<LoadedModel> unloaded = new ArrayList<>(); // guarded by this; closed by the model thread

    private ModelSlot(LoadedModel first, OpponentWatcher watcher, NDManager manager, PromptTemplate template, CheckpointLocation location) {
        this.current = first;
        this.watcher = watcher;
        this.manager = manager;
        this.template = template;
        this.location = location;
    }

    /** Serves {@code model} for good; adapters are read from within {@code location}. */
    public static ModelSlot fixed(LoadedModel model, NDManager manager, PromptTemplate template, CheckpointLocation location) {
        return new ModelSlot(model, null, manager, template, location);
    }

    /** Follows {@code watcher}'s run, waiting up to {@code waitMs} for its first opponent. */
    public static ModelSlot following(OpponentWatcher watcher, NDManager manager, PromptTemplate template, CheckpointLocation location,
                                      long waitMs) throws InterruptedException {
        Optional<OpponentPromotion> first = watcher.awaitOther("", waitMs);
        if (first.isEmpty()) {
            throw new IllegalStateException("the run has no opponent yet (none promoted within " + waitMs + " ms)");
        }
        return new ModelSlot(Opponent.load(first.get(), manager, template, location).model(), watcher, manager, template, location);
    }

    /** The main model: the fixed checkpoint, or the run's opponent. */
    public LoadedModel current() {
        return current;
    }

    /** The model a request names: the main one by its id, or an adapter by the name it was loaded under. */
    public synchronized Optional<LoadedModel> named(String name) {
        if (current.id().equals(name)) {
            return Optional.of(current);
        }
        return Optional.ofNullable(adapters.get(name));
    }

    /** The names requests may give, the main model's first. */
    public synchronized List<String> names() {
        List<String> out = new ArrayList<>();
        out.add(current.id());
        out.addAll(adapters.keySet());
        return out;
    }

    /** Whether {@code model} may still answer (it is open): the main model, the one it replaced, or a loaded adapter. */
    public synchronized boolean serves(LoadedModel model) {
        return model == current || model == retired || adapters.containsValue(model);
    }

    /**
     * Loads the checkpoint folder {@code path} (a LoRA adapter comes merged over its lineage, as a generator loads
     * it) and serves it as {@code name}.
     *
     * @return false where {@code name} is already loaded
     */
    public boolean loadAdapter(String name, String path) {
        synchronized (this) {
            if (adapters.containsKey(name) || current.id().equals(name)) {
                return false;
            }
        }
        Path dir = location.resolve(path);
        CheckpointMetadata meta = CheckpointStore.verify(dir);
        LoadedModel loaded = LoadedModel.load(name, dir, Optional.empty(), manager, template, Precision.FLOAT32);
        synchronized (this) {
            if (adapters.putIfAbsent(name, loaded) != null) {
                loaded.close();
                return false;
            }
            while (adapters.size() > maxAdapters) { // vLLM's --max-loras: the least recently used goes
                Map.Entry<String, LoadedModel> eldest = adapters.entrySet().iterator().next();
                adapters.remove(eldest.getKey());
                unloaded.add(eldest.getValue());
                log.info("unloaded adapter {}, the least recently used, to hold at most {}", eldest.getKey(), maxAdapters);
            }
        }
        log.info("now serving {} as {} beside {}", meta.id(), name, current.id());
        return true;
    }

    /** At most {@code n} adapters are held at once (the least recently used unloaded). */
    public synchronized void maxAdapters(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("--max-loras must be >= 1, got " + n);
        }
        this.maxAdapters = n;
    }

    /** Stops serving adapter {@code name}; false where none has that name. */
    public synchronized boolean unloadAdapter(String name) {
        LoadedModel gone = adapters.remove(name);
        if (gone != null) {
            unloaded.add(gone);
        }
        return gone != null;
    }

    /** Called by the model thread before each batch: the run's newest opponent, loaded if it changed. */
    public LoadedModel refresh() {
        synchronized (this) {
            unloaded.forEach(LoadedModel::close); // nothing runs on them now: the model thread is here
            unloaded.clear();
        }
        if (watcher == null) {
            return current;
        }
        Optional<OpponentPromotion> latest = watcher.current();
        if (latest.isPresent() && !latest.get().getCheckpointId().equals(current.id()) && System.nanoTime() >= nextTry) {
            try {
                long t0 = System.nanoTime();
                LoadedModel next = Opponent.load(latest.get(), manager, template, location).model();
                synchronized (this) {
                    if (retired != null) {
                        retired.close();
                    }
                    retired = current;
                    current = next;
                }
                log.info("now serving {} (round {}), loaded in {} ms", next.id(), latest.get().getRound(), (System.nanoTime() - t0) / 1_000_000);
            } catch (RuntimeException e) {
                // Its files may still be arriving: keep serving the one loaded, try again in a moment.
                log.warn("cannot load opponent {} yet ({}); still serving {}", latest.get().getCheckpointId(), e.getMessage(), current.id());
                nextTry = System.nanoTime() + RETRY_NANOS;
            }
        }
        return current;
    }

    @Override
    public synchronized void close() {
        current.close();
        if (retired != null) {
            retired.close();
        }
        adapters.values().forEach(LoadedModel::close);
        unloaded.forEach(LoadedModel::close);
        if (watcher != null) {
            watcher.close();
        }
    }
}
