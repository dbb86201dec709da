package io.spinstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

/**
 * Keys and values of every layer for the positions seen so far ([batch, kv heads, positions, head dim]),
 * so that each generated token costs one position of attention instead of the whole sequence. The
 * buffers are allocated once for {@code capacity} positions and filled in place: appending by
 * concatenation would copy the whole cache of every layer for every token.
 */
public final class KvCache implements AutoCloseable {
    private final NDManager manager;
    private final NDArray[] keys;
    private final NDArray[] values;
    private final int capacity;
    private final long[] filled;
    private long window; // the first column attended to: columns before it are dead for every row

    /** @param capacity the most positions it will hold (prompt and generated tokens) */
    public KvCache(NDManager parent, int layers, int capacity) {
        this.manager = parent.newSubManager();
        this.keys = new NDArray[layers];
        this.values = new NDArray[layers];
        this.capacity = capacity;
        this.filled = new long[layers];
    }

    /** Positions cached so far. */
    public long length() {
        return filled[0];
    }

    /**
     * Attention reads the columns from {@code column} on: with continuous batching the columns before the
     * earliest live row's first are masked for every row, and reading them would make every step's attention
     * (a memory-bound pass over the cache) grow with all the columns the batch has used, not with its rows'
     * own lengths. The key mask then covers the columns from here.
     */
    public void attendFrom(long column) {
        if (column < 0 || column > filled[0]) {
            throw new IllegalArgumentException("column " + column + " is outside the " + filled[0] + " cached");
        }
        window = column;
    }

    /** Cached positions attention reads: those from {@link #attendFrom}'s column on. */
    public long attended() {
        return filled[0] - window;
    }

    /** Writes this step's keys and values into layer {@code layer} and returns views of those attended to. */
    NDList append(int layer, NDArray k, NDArray v) {
        long from = filled[layer];
        long to = from + k.getShape().get(2);
        if (to > capacity) {
            throw new IllegalStateException("the cache holds " + capacity + " positions; " + to + " were asked for");
        }
        if (keys[layer] == null) {
            Shape s = k.getShape();
            Shape full = new Shape(s.get(0), s.get(1), capacity, s.get(3));
            keys[layer] = manager.zeros(full, k.getDataType());
            values[layer] = manager.zeros(new Shape(v.getShape().get(0), v.getShape().get(1), capacity, v.getShape().get(3)),
                    v.getDataType());
        }
        NDIndex slot = new NDIndex().addAllDim(2).addSliceDim(from, to); // built, not parsed: this runs per layer per token
        keys[layer].set(slot, k);
        values[layer].set(slot, v);
        filled[layer] = to;
        NDIndex seen = new NDIndex().addAllDim(2).addSliceDim(window, to);
        // Views into the buffers, in the step's scope (the buffers stay the cache's).
        NDArray ks = keys[layer].get(seen);
        NDArray vs = values[layer].get(seen);
        ks.attach(k.getManager());
        vs.attach(k.getManager());
        return new NDList(ks, vs);
    }

    /**
     * Copies {@code n} positions of row {@code sourceRow} of {@code source}, from its column {@code sourceFrom},
     * into row {@code row} of this cache from column {@code from}: prompts prefilled apart joining a running
     * batch. Needs this cache's buffers (after a step).
     */
    void writeRow(int row, long from, KvCache source, int sourceRow, long sourceFrom, long n) {
        NDIndex target = new NDIndex().addIndices(row).addAllDim().addSliceDim(from, from + n);
        NDIndex seen = new NDIndex().addIndices(sourceRow).addAllDim().addSliceDim(sourceFrom, sourceFrom + n);
        for (int layer = 0; layer < keys.length; layer++) {
            keys[layer].set(target, source.keys[layer].get(seen));
            values[layer].set(target, source.values[layer].get(seen));
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
