package io.spinstream.trainer;

import io.spinstream.runtime.FaultPoints;
import io.spinstream.trainer.round.RoundListener;
import io.spinstream.trainer.round.RoundTrainer;

/**
 * The trainer's fault points that follow the round (first among the listeners, so a kill at a new
 * candidate comes after its rename and before its announcement). Inert unless a test arms one.
 */
final class FaultPointListener implements RoundListener {
    private final FaultPoints faults;

    FaultPointListener(FaultPoints faults) {
        this.faults = faults;
    }

    @Override
    public void onCandidate(RoundTrainer round, Candidate candidate) {
        faults.reach(FaultPoints.TRAINER_CANDIDATE_RENAMED);
    }

    @Override
    public void onRollback(RoundTrainer round) {
        faults.reach(FaultPoints.TRAINER_ROLLED_BACK);
    }
}
