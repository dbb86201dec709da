package io.spinstream.model.train;

/**
 * Linear warm-up from 0 to {@code peak} over {@code warmupSteps}, then linear decay to
 * {@code peak * finalFraction} at {@code totalSteps} (constant after it). {@code totalSteps} 0 means no decay.
 */
public record LearningRateSchedule(double peak, int warmupSteps, int totalSteps, double finalFraction) {

    public LearningRateSchedule {
        if (!(peak > 0) || warmupSteps < 0 || totalSteps < 0 || finalFraction < 0 || finalFraction > 1) {
            throw new IllegalArgumentException("bad schedule: peak > 0, warmup >= 0, total >= 0, final fraction in [0, 1]");
        }
    }

    public static LearningRateSchedule constant(double lr) {
        return new LearningRateSchedule(lr, 0, 0, 1);
    }

    /** The learning rate of optimiser step {@code step} (0-based). */
    public double at(long step) {
        if (step < warmupSteps) {
            return peak * (step + 1) / (warmupSteps + 1);
        }
        if (totalSteps <= warmupSteps) {
            return peak;
        }
        double progress = Math.min(1.0, (double) (step - warmupSteps) / (totalSteps - warmupSteps));
        return peak * (1 - progress * (1 - finalFraction));
    }
}
