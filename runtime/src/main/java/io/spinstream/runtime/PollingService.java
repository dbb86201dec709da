package io.spinstream.runtime;

import org.apache.kafka.clients.consumer.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;

/**
 * A service whose work is one poll loop on a thread of its own. {@link #stop()} asks the loop to end
 * and wakes its consumer; the loop finishes the batch in flight and commits before it returns.
 */
public abstract class PollingService implements Service {
    private static final Logger log = LoggerFactory.getLogger(PollingService.class);

    private final Thread worker;
    private final Duration stopTimeout;
    private volatile boolean running;
    private volatile boolean ready;
    private volatile Consumer<?, ?> consumer;
    private volatile Throwable failure;
    private final Map<String, BooleanSupplier> parts = new ConcurrentHashMap<>(); // threads the worker relies on
    private final Clock clock;
    private volatile Duration stuckAfter;      // null: no bound on one unit of work
    private volatile String stuckKey;          // the configuration key that sets it, named in the reason
    private volatile long workingSince = -1;   // clock millis when the unit of work in hand began; -1: none
    private volatile String workingOn;

    protected PollingService(String name, Duration stopTimeout) {
        this(name, stopTimeout, Clock.systemUTC());
    }

    protected PollingService(String name, Duration stopTimeout, Clock clock) {
        this.worker = new Thread(this::loop, name);
        this.stopTimeout = stopTimeout;
        this.clock = clock;
    }

    /**
     * A unit of work ({@link #working}) that lasts longer than {@code bound} makes the service not live, with the
     * reason: a worker stuck in one record (a template that never finishes rendering) is restarted, not left
     * answering nothing behind a live probe.
     */
    protected final void stuckAfter(Duration bound, String key) {
        this.stuckAfter = bound;
        this.stuckKey = key;
    }

    /** The worker begins a unit of work that should end within the stuck bound. */
    protected final void working(String what) {
        workingOn = what;
        workingSince = clock.millis();
    }

    /** The unit of work in hand has ended. */
    protected final void idle() {
        workingSince = -1;
    }

    /** What a loop running on this service's thread may use of it (the exactly-once loop of the consuming services). */
    public interface Worker {
        boolean running();

        /** The consumer a stop wakes; null when none is open. */
        void polling(Consumer<?, ?> c);

        void ready(boolean value);

        /** A unit of work begins (see {@link PollingService#stuckAfter}). */
        void working(String what);

        /** The unit of work in hand has ended. */
        void idle();
    }

    /** This service as its loop's {@link Worker}. */
    protected final Worker worker() {
        return new Worker() {
            @Override
            public boolean running() {
                return PollingService.this.running();
            }

            @Override
            public void polling(Consumer<?, ?> c) {
                PollingService.this.polling(c);
            }

            @Override
            public void ready(boolean value) {
                PollingService.this.ready(value);
            }

            @Override
            public void working(String what) {
                PollingService.this.working(what);
            }

            @Override
            public void idle() {
                PollingService.this.idle();
            }
        };
    }

    /** The poll loop; returns when {@link #running()} turns false (or on a failure it cannot recover from). */
    protected abstract void work() throws Exception;

    private void loop() {
        try {
            work();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable e) {
            failure = e;
            log.error("{} failed: {}", worker.getName(), e.toString(), e);
        } finally {
            ready = false;
            consumer = null;
        }
    }

    /**
     * Makes {@code alive} part of this service's liveness under {@code name} (a follower thread, the pair
     * joiner): when it reports false the service is not live. Registering a name again replaces it.
     */
    protected final void watch(String name, BooleanSupplier alive) {
        parts.put(name, alive);
    }

    protected final void unwatch(String name) {
        parts.remove(name);
    }

    @Override
    public final Optional<String> deadBecause() {
        if (!running) {
            return Optional.empty(); // not started, or stopping: its parts close on purpose
        }
        Throwable f = failure;
        if (f != null) {
            return Optional.of(worker.getName() + " failed: " + f);
        }
        if (worker.getState() == Thread.State.TERMINATED) {
            return Optional.of(worker.getName() + " stopped working");
        }
        long since = workingSince;
        Duration bound = stuckAfter;
        if (since >= 0 && bound != null && clock.millis() - since > bound.toMillis()) {
            return Optional.of(worker.getName() + " stuck for " + (clock.millis() - since) / 1000 + " s in " + workingOn
                    + " (" + stuckKey + " = " + bound.toSeconds() + " s)");
        }
        return parts.entrySet().stream().filter(e -> !e.getValue().getAsBoolean()).findFirst()
                .map(e -> worker.getName() + ": " + e.getKey() + " is not running");
    }

    protected final boolean running() {
        return running;
    }

    protected final void ready(boolean value) {
        ready = value;
    }

    /** The consumer {@link #stop()} wakes up; null when none is open. */
    protected final void polling(Consumer<?, ?> c) {
        consumer = c;
    }

    @Override
    public final void start() {
        running = true;
        worker.start();
    }

    @Override
    public final boolean isReady() {
        return ready;
    }

    /** Set when the loop died of an error it could not recover from. */
    public final Throwable failure() {
        return failure;
    }

    @Override
    public final void stop() {
        running = false;
        Consumer<?, ?> c = consumer;
        if (c != null) {
            c.wakeup();
        }
        try {
            worker.join(stopTimeout.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
