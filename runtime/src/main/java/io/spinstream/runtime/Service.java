package io.spinstream.runtime;

/**
 * A Spinstream service: started once, stopped once (on SIGTERM from its {@code main}). {@link #stop()}
 * finishes the work in flight and commits what is done.
 */
public interface Service extends AutoCloseable {

    void start();

    void stop();

    /** Ready to do work (readiness). */
    boolean isReady();

    /** Why the service can no longer do its work (its worker or a part it needs has died); empty while it is live. */
    default java.util.Optional<String> deadBecause() {
        return java.util.Optional.empty();
    }

    @Override
    default void close() {
        stop();
    }
}
