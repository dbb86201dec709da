package io.spinstream.runtime;

import io.spinstream.model.checkpoint.CheckpointException;
import io.spinstream.schemas.RegistryUnavailableException;
import org.apache.kafka.common.errors.RetriableException;

/**
 * Whose fault a failure is. A transient one (the registry, the broker or the reward model cannot be
 * reached, a checkpoint's files are not there yet) says nothing about the input: back off and try the same input
 * again, commit nothing, write no dead letter. A permanent one is the input's own fault.
 */
public enum FaultKind {
    TRANSIENT, PERMANENT;

    public static FaultKind of(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof RegistryUnavailableException || t instanceof RetriableException
                    || t instanceof CheckpointException c && c.missing()
                    || t instanceof io.spinstream.runtime.http.JsonEndpoint.Unavailable) {
                return TRANSIENT;
            }
        }
        return PERMANENT;
    }

    public static boolean isTransient(Throwable failure) {
        return of(failure) == TRANSIENT;
    }
}
