package io.spinstream.model;

import ai.djl.pytorch.jni.JniUtils;

/**
 * Turns autograd recording off on this thread until closed. PyTorch's grad mode is per thread and on by
 * default on a new thread (DJL switches it off only on the thread that loads the engine), so inference
 * and optimiser updates on a service's own thread must say so.
 */
public final class NoGrad implements AutoCloseable {
    private final boolean before;

    private NoGrad() {
        this.before = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
    }

    public static NoGrad enter() {
        return new NoGrad();
    }

    @Override
    public void close() {
        JniUtils.setGradMode(before);
    }
}
