package io.spinstream.schemas;

import com.microsoft.kiota.ApiException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.SerializationException;

import java.io.EOFException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.net.http.HttpTimeoutException;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLException;

/**
 * The registry could not be asked (refused connection, time-out, TLS or credentials refused, a 5xx or
 * 429 answer): the record is not at fault, so it must be read again later, never dead-lettered. Only an
 * answer of the registry itself (a schema id it does not know) or bytes that do not decode are the
 * record's fault ({@link SerializationException}).
 */
public final class RegistryUnavailableException extends RetriableException {

    public RegistryUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * What a serde failure means: this exception when the registry could not be asked, otherwise a
     * {@link SerializationException} that says what is wrong with the record.
     */
    static RuntimeException classify(String topic, RuntimeException failure) {
        if (failure instanceof RegistryUnavailableException) {
            return failure;
        }
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof ApiException api) {
                int status = api.getResponseStatusCode();
                if (status == 404) {
                    return new SerializationException("the registry does not know the record's schema id ("
                            + topic + ", HTTP 404)", failure);
                }
                if (status >= 500 || status == 429 || status == 408 || status == 401 || status == 403) {
                    return new RegistryUnavailableException("the registry answered HTTP " + status + " for " + topic, failure);
                }
            }
            if (t instanceof EOFException) {
                break; // Avro ran out of bytes: the record is cut short
            }
            if (t instanceof SocketException || t instanceof SocketTimeoutException || t instanceof UnknownHostException
                    || t instanceof HttpTimeoutException || t instanceof TimeoutException || t instanceof SSLException
                    || t.getClass().getName().equals("io.vertx.core.http.HttpClosedException")) {
                return new RegistryUnavailableException("the registry cannot be reached for " + topic + ": " + t, failure);
            }
        }
        return failure instanceof SerializationException ? failure
                : new SerializationException("cannot decode the record of " + topic + ": " + failure, failure);
    }
}
