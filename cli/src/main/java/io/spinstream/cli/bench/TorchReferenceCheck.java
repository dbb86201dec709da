package io.spinstream.cli.bench;

/** Whether the PyTorch reference can run here, and if not, what to install. */
public final class TorchReferenceCheck {
    private TorchReferenceCheck() {
    }

    /** Null when it can run; otherwise what is missing and the command that installs it. */
    public static String missing() {
        return TorchReference.missing();
    }
}
