package io.spinstream.model.checkpoint;

/** A checkpoint is missing, incomplete or corrupt; the message says which file and why. */
public final class CheckpointException extends RuntimeException {
    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
