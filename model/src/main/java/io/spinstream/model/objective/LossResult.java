package io.spinstream.model.objective;

import ai.djl.ndarray.NDArray;

/**
 * A batch's scalar loss (differentiable) and, per pair, the implicit rewards of both responses; the
 * margin is their difference and "reward accuracy" is the share of pairs where it is positive.
 */
public record LossResult(NDArray loss, NDArray chosenRewards, NDArray rejectedRewards) {

    public double lossValue() {
        return loss.toType(ai.djl.ndarray.types.DataType.FLOAT64, false).getDouble();
    }

    public double meanMargin() {
        return chosenRewards.sub(rejectedRewards).toType(ai.djl.ndarray.types.DataType.FLOAT64, false).mean().getDouble();
    }

    public double rewardAccuracy() {
        return chosenRewards.gt(rejectedRewards).toType(ai.djl.ndarray.types.DataType.FLOAT64, false).mean().getDouble();
    }
}
