package io.spinstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;

/**
 * Keys and values of every layer for the positions seen so far ([batch, kv heads, positions, head dim]),
 * so that each generated token costs one position of attention instead of the whole sequence.
 */
public final class KvCache implements AutoCloseable {
    private final NDManager manager;
    private final NDArray[] keys;
    private final NDArray[] values;

    public KvCache(NDManager parent, int layers) {
        this.manager = parent.newSubManager();
        this.keys = new NDArray[layers];
        this.values = new NDArray[layers];
    }

    /** Positions cached so far. */
    public long length() {
        return keys[0] == null ? 0 : keys[0].getShape().get(2);
    }

    /** Appends this step's keys and values to layer {@code layer} and returns the full ones. */
    NDList append(int layer, NDArray k, NDArray v) {
        NDArray fullK = keys[layer] == null ? k : NDArrays.concat(new NDList(keys[layer], k), 2);
        NDArray fullV = values[layer] == null ? v : NDArrays.concat(new NDList(values[layer], v), 2);
        // The cache owns what it keeps; the step's scope closes the rest.
        NDArray oldK = keys[layer];
        NDArray oldV = values[layer];
        keys[layer] = fullK;
        values[layer] = fullV;
        fullK.attach(manager);
        fullV.attach(manager);
        if (oldK != null && oldK != fullK) {
            oldK.close();
            oldV.close();
        }
        return new NDList(fullK, fullV);
    }

    @Override
    public void close() {
        manager.close();
    }
}
