package io.spinstream.runtime;

import java.time.Duration;

/**
 * Exponential back-off between tries of the same work: {@code initial}, doubled after each pause up to
 * {@code max}; {@link #reset()} after a success. Owned by one thread.
 */
public final class Backoff {
    private final Duration initial;
    private final Duration max;
    private Duration next;
    private int failures;

    public Backoff(Duration initial, Duration max) {
        if (initial.isNegative() || initial.isZero() || max.compareTo(initial) < 0) {
            throw new IllegalArgumentException("back-off needs 0 < initial <= max, got " + initial + " and " + max);
        }
        this.initial = initial;
        this.max = max;
        this.next = initial;
    }

    /** The back-off the services use: 0.5 s doubling to 30 s. */
    public static Backoff standard() {
        return new Backoff(Duration.ofMillis(500), Duration.ofSeconds(30));
    }

    /** Sleeps the current pause and doubles the next; returns the pause slept. */
    public Duration pause() throws InterruptedException {
        Duration slept = peek();
        failures++;
        Thread.sleep(slept.toMillis());
        Duration doubled = next.multipliedBy(2);
        next = doubled.compareTo(max) > 0 ? max : doubled;
        return slept;
    }

    /**
     * {@link #pause()} for loops that cannot throw {@link InterruptedException}: an interrupt is kept on
     * the thread and thrown as Kafka's unchecked {@link org.apache.kafka.common.errors.InterruptException}.
     */
    public Duration pauseOrThrow() {
        try {
            return pause();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new org.apache.kafka.common.errors.InterruptException(e);
        }
    }

    /** The pause the next {@link #pause()} sleeps. */
    public Duration peek() {
        return next;
    }

    /** Failures since the last success. */
    public int failures() {
        return failures;
    }

    public void reset() {
        next = initial;
        failures = 0;
    }
}
