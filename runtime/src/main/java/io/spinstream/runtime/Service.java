package io.spinstream.runtime;

/**
 * A Spinstream service: started once, stopped once (on SIGTERM from its {@code main}). {@link #stop()}
 * finishes the work in flight and commits what is done.
 */
public interface Service extends AutoCloseable {

    void start();

    void stop();

    /** Ready to do work (readiness); a started service that has not failed is live. */
    boolean isReady();

    @Override
    default void close() {
        stop();
    }
}
