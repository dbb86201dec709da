package io.spinstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;

/** Tensor operations that keep the autograd graph where DJL's own would cut it. */
public final class Differentiable {
    private Differentiable() {
    }

    /**
     * {@link NDArrays#concat(NDList, int)}, except that a single array is returned as it is: DJL returns a
     * {@code duplicate()} of it, which on PyTorch is a copy without the autograd history, so a loss built on
     * it has no gradient (seen as "element 0 of tensors does not require grad" on a one-group RRHF step).
     */
    public static NDArray concat(NDList arrays, int axis) {
        return arrays.size() == 1 ? arrays.get(0) : NDArrays.concat(arrays, axis);
    }

    public static NDArray concat(NDList arrays) {
        return concat(arrays, 0);
    }
}
