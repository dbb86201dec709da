package io.spinstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

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

    /**
     * {@code x} in {@code type}, with the autograd graph kept: DJL's {@link NDArray#toType} converts under a no-grad
     * guard, so a cast on the gradient path (float16 compute: LoRA's, RMSNorm's float32 upcast, the log-softmax's)
     * cut the gradient ("element 0 of tensors does not require grad"). libtorch's {@code cumprod(x, dim, dtype)}
     * converts its input inside the graph; over a dimension of size 1 it is the identity, so it is exactly the cast,
     * and its backward hands the gradient back converted to x's type. Without gradients it is the plain conversion.
     */
    public static NDArray cast(NDArray x, DataType type) {
        if (x.getDataType() == type) {
            return x;
        }
        if (!JniUtils.isGradMode()) {
            return x.toType(type, false);
        }
        return JniUtils.cumProd((PtNDArray) x.expandDims(-1), -1, type).squeeze(-1);
    }
}
