package io.spinstream.trainer.round;

import java.time.InstantSource;
import java.util.List;

/**
 * When a round's pass is over. With the run's generators to wait for: as soon as they have answered every
 * prompt and every pair of those answers has been delivered (no fixed idle wait); progress is asked at most
 * once a second, and an answer that cannot be had counts as "not yet". For pairs that come from elsewhere
 * ({@link GenerationProgress#NONE}): after {@code idleMs} without a new pair.
 */
public final class RoundEnd {

    /**
     * How far the round's generation pass is: what is not yet done (prompt partitions not answered, answers not
     * joined, pairs not read), empty once every pair of the pass has been delivered.
     */
    @FunctionalInterface
    public interface GenerationProgress {
        List<String> unfinished() throws Exception;

        /** For pairs that do not come from this run's generators: the idle time alone ends a pass. */
        GenerationProgress NONE = List::of;
    }

    /**
     * The rule: with {@code waitForGeneration} a pass ends once generation is done and its pairs delivered;
     * otherwise after {@code idleMs} without a new pair.
     */
    public record Rule(long idleMs, boolean waitForGeneration) {
    }

    /** What the last look at generation progress found. */
    public record Check(boolean done, String detail) {
    }

    private final InstantSource clock;
    private final long idleMs;
    private final GenerationProgress progress;
    private long lastPairAt;
    private long lastAskedAt = -1;
    private boolean delivered;
    private String lastDetail = "generation not finished";

    public RoundEnd(InstantSource clock, long idleMs, GenerationProgress progress) {
        this.clock = clock;
        this.idleMs = idleMs;
        this.progress = progress;
        this.lastPairAt = clock.millis();
    }

    /**
     * A pair of the round arrived (or the round starts over: a rollback reads its pairs again): the idle time
     * starts again, and a delivery seen complete before must be seen again, or a late pair, or the first of
     * those read again, would end the pass at once.
     */
    public void pairArrived() {
        lastPairAt = clock.millis();
        delivered = false;
    }

    public boolean idle() {
        return clock.millis() - lastPairAt >= idleMs;
    }

    /** Whether the pass is over; {@code detail} of the last look says why not. */
    public Check check() {
        if (progress == GenerationProgress.NONE) {
            return idle() ? new Check(true, "") : new Check(false, "a pair came less than " + idleMs + " ms ago");
        }
        if (delivered) {
            return new Check(true, "");
        }
        long now = clock.millis();
        if (lastAskedAt >= 0 && now - lastAskedAt < 1000) {
            return new Check(false, lastDetail);
        }
        lastAskedAt = now;
        try {
            List<String> left = progress.unfinished();
            delivered = left.isEmpty();
            lastDetail = delivered ? "" : "not yet delivered: " + String.join("; ", left);
        } catch (Exception e) {
            lastDetail = "cannot tell whether generation is done (" + e + ")";
        }
        return new Check(delivered, lastDetail);
    }
}
