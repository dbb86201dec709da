package io.spinstream.model.testing;

import ai.djl.ndarray.NDArray;

import java.util.function.DoubleSupplier;

/** One side of a central difference: the loss with one parameter entry moved by delta, the entry restored after. */
public final class FiniteDifferences {
    private FiniteDifferences() {
    }

    public static double lossWith(DoubleSupplier loss, NDArray p, int index, double delta) {
        double[] values = p.toDoubleArray();
        double original = values[index];
        values[index] = original + delta;
        p.set(values);
        double value = loss.getAsDouble();
        values[index] = original;
        p.set(values);
        return value;
    }
}
