package io.spinstream.trainer.round;

/**
 * What rejections of a round's candidates lead to. Given the rejections seen so far in the round and
 * those an earlier rollback already answered, the policy says what to do now.
 */
public sealed interface RejectionPolicy {

    enum Action { NONE, ROLL_BACK, STOP }

    Action decide(int rejected, int handledByRollback);

    String kind();

    /** Keep training from the current θ. */
    record Continue() implements RejectionPolicy {
        public Action decide(int rejected, int handledByRollback) {
            return Action.NONE;
        }

        public String kind() {
            return "continue";
        }
    }

    /** After every {@code after} new rejections: θ back to the opponent, learning rate × {@code lrFactor}. */
    record Rollback(int after, double lrFactor) implements RejectionPolicy {
        public Rollback {
            if (after < 1 || !(lrFactor > 0 && lrFactor <= 1)) {
                throw new IllegalArgumentException("rollback needs after >= 1 and 0 < lr factor <= 1, not " + after
                        + " and " + lrFactor);
            }
        }

        public Action decide(int rejected, int handledByRollback) {
            return rejected - handledByRollback >= after ? Action.ROLL_BACK : Action.NONE;
        }

        public String kind() {
            return "rollback";
        }
    }

    /** After {@code after} rejections the run stops as converged. */
    record Stop(int after) implements RejectionPolicy {
        public Stop {
            if (after < 1) {
                throw new IllegalArgumentException("stop needs after >= 1, not " + after);
            }
        }

        public Action decide(int rejected, int handledByRollback) {
            return rejected >= after ? Action.STOP : Action.NONE;
        }

        public String kind() {
            return "stop";
        }
    }

    /** The policy named {@code kind} (continue, rollback or stop) with its parameters. */
    static RejectionPolicy of(String kind, int rollbackAfter, double lrFactor, int stopAfter) {
        return switch (kind) {
            case "continue" -> new Continue();
            case "rollback" -> new Rollback(rollbackAfter, lrFactor);
            case "stop" -> new Stop(stopAfter);
            default -> throw new IllegalArgumentException("rejection policy '" + kind + "': expected continue, rollback or stop");
        };
    }
}
