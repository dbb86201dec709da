package io.spinstream.model.checkpoint;

/**
 * A checkpoint is missing, incomplete or corrupt; the message says which file and why.
 * {@link #missing()} tells the two apart: files that are not there (yet) or cannot be read now may
 * still arrive (a shared volume, a copy in progress) and are worth trying again; files that are there
 * and wrong (a checksum or format fault) never become right.
 */
public final class CheckpointException extends RuntimeException {
    private final boolean missing;

    public CheckpointException(String message) {
        this(message, null, false);
    }

    public CheckpointException(String message, Throwable cause) {
        this(message, cause, false);
    }

    private CheckpointException(String message, Throwable cause, boolean missing) {
        super(message, cause);
        this.missing = missing;
    }

    /** The checkpoint's files are absent or unreadable now; they may be there later. */
    public static CheckpointException missing(String message) {
        return new CheckpointException(message, null, true);
    }

    public static CheckpointException missing(String message, Throwable cause) {
        return new CheckpointException(message, cause, true);
    }

    /** True when the files are absent or unreadable (try again later), false when they are there and wrong. */
    public boolean missing() {
        return missing;
    }
}
