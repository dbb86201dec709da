package io.spinstream.runtime;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Named points in the services where the fault-matrix tests kill the JVM with SIGKILL, to prove that a
 * crash exactly there loses and repeats nothing. Armed by the system property {@code spin.fault.point}
 * ({@code NAME} or {@code NAME@N}: the N-th time the point is reached); inert otherwise, which is how
 * every deployment runs.
 */
public final class FaultPoints {
    private static final Logger log = LoggerFactory.getLogger(FaultPoints.class);
    public static final String PROPERTY = "spin.fault.point";

    /** The points, by name. */
    public static final String TRAINER_CANDIDATE_WRITTEN = "trainer.candidate.written"; // files written, before the rename
    public static final String TRAINER_CANDIDATE_RENAMED = "trainer.candidate.renamed"; // in the store, not announced
    public static final String TRAINER_ROLLED_BACK = "trainer.rolled-back";
    public static final String GENERATOR_SENT = "generator.sent"; // answers sent in the transaction, before its commit
    public static final String EVALUATOR_SENT = "evaluator.sent"; // evaluation sent in the transaction, before its commit
    public static final String EVALUATOR_WAITING = "evaluator.waiting"; // a passing candidate waits for another suite

    private final String armed;
    private final int nth;
    private final AtomicInteger reached = new AtomicInteger();

    private FaultPoints(String armed, int nth) {
        this.armed = armed;
        this.nth = nth;
    }

    public static final FaultPoints NONE = new FaultPoints(null, 0);

    /** Armed from {@code -Dspin.fault.point=NAME[@N]}, or {@link #NONE}. */
    public static FaultPoints fromSystemProperty() {
        String spec = System.getProperty(PROPERTY);
        if (spec == null || spec.isBlank()) {
            return NONE;
        }
        int at = spec.indexOf('@');
        return at < 0 ? new FaultPoints(spec.trim(), 1)
                : new FaultPoints(spec.substring(0, at).trim(), Integer.parseInt(spec.substring(at + 1).trim()));
    }

    /** Kills this JVM with SIGKILL when {@code point} is the armed one, reached for the N-th time. */
    public void reach(String point) {
        if (armed == null || !armed.equals(point) || reached.incrementAndGet() != nth) {
            return;
        }
        long pid = ProcessHandle.current().pid();
        log.warn("fault point {} reached: SIGKILL to {}", point, pid);
        try {
            new ProcessBuilder("kill", "-9", Long.toString(pid)).inheritIO().start().waitFor(10, TimeUnit.SECONDS);
            Thread.sleep(10_000);
        } catch (Exception e) {
            // no kill command: the closest thing, a halt without shutdown hooks
        }
        Runtime.getRuntime().halt(137);
    }
}
