package io.spinstream.model.testing;

import ai.djl.ndarray.NDArray;
import io.spinstream.model.train.PreferenceBatch;
import io.spinstream.model.train.TrainStep;

import java.util.List;

/** The loss with one parameter entry moved by delta, the entry restored after: one side of a central difference. */
public final class FiniteDifferences {
    private FiniteDifferences() {
    }

    public static double lossWith(TrainStep step, PreferenceBatch batch, NDArray p, int index, double delta) {
        double[] values = p.toDoubleArray();
        double original = values[index];
        values[index] = original + delta;
        p.set(values);
        double loss = step.loss(List.of(batch));
        values[index] = original;
        p.set(values);
        return loss;
    }
}
