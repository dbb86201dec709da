package io.spinstream.trainer.round;

import io.spinstream.model.train.StepResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.InstantSource;
import java.util.Locale;

/** The trainer's periodic progress line: step, loss, margin, reward accuracy, tokens/s and pairs/s. */
public final class ProgressLog implements RoundListener {
    private static final Logger log = LoggerFactory.getLogger(ProgressLog.class);

    private final InstantSource clock;
    private final long everyMs;
    private long since;
    private long tokens;
    private long pairs;

    public ProgressLog(InstantSource clock, long everyMs) {
        this.clock = clock;
        this.everyMs = everyMs;
        this.since = clock.millis();
    }

    @Override
    public void onStep(RoundTrainer round, StepResult r, int n, java.time.Duration compute) {
        tokens += r.tokens();
        pairs += n;
        long now = clock.millis();
        if (now - since < everyMs) {
            return;
        }
        double seconds = Math.max(1e-3, (now - since) / 1000.0);
        log.info(String.format(Locale.ROOT, "round %d step %d: loss %.4f, margin %.3f, reward accuracy %.2f, %.0f tokens/s,"
                        + " %d pairs trained (%.1f/s), %d buffered, %d skipped steps", round.round(), round.totalSteps(), r.loss(),
                r.margin(), r.rewardAccuracy(), tokens / seconds, round.pairsTrained(), pairs / seconds, round.buffered(),
                round.skippedSteps()));
        since = now;
        tokens = 0;
        pairs = 0;
    }
}
