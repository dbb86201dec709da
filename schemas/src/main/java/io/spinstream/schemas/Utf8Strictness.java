package io.spinstream.schemas;

import org.apache.avro.generic.IndexedRecord;
import org.apache.kafka.common.errors.SerializationException;

import java.util.Collection;
import java.util.Map;

/**
 * Avro decodes a string with invalid UTF-8 into U+FFFD replacement characters without a word, so a
 * corrupt prompt would be answered as if it were text. A decoded record holding more U+FFFD than its
 * bytes encode (EF BF BD each) had invalid UTF-8 in a string: it is refused.
 */
final class Utf8Strictness {
    private static final char REPLACEMENT = '\uFFFD';

    private Utf8Strictness() {
    }

    static void check(String topic, byte[] bytes, Object decoded) {
        long seen = replacements(decoded);
        if (seen == 0) {
            return;
        }
        long encoded = 0;
        for (int i = 0; i + 2 < bytes.length; i++) {
            if ((bytes[i] & 0xff) == 0xEF && (bytes[i + 1] & 0xff) == 0xBF && (bytes[i + 2] & 0xff) == 0xBD) {
                encoded++;
                i += 2;
            }
        }
        if (seen > encoded) {
            throw new SerializationException("a string of the record on " + topic + " is not valid UTF-8 ("
                    + (seen - encoded) + " malformed byte sequence(s))");
        }
    }

    private static long replacements(Object value) {
        return switch (value) {
            case null -> 0;
            case CharSequence s -> s.chars().filter(c -> c == REPLACEMENT).count();
            case IndexedRecord r -> {
                long n = 0;
                for (int i = 0; i < r.getSchema().getFields().size(); i++) {
                    n += replacements(r.get(i));
                }
                yield n;
            }
            case Collection<?> c -> c.stream().mapToLong(Utf8Strictness::replacements).sum();
            case Map<?, ?> m -> m.entrySet().stream().mapToLong(e -> replacements(e.getKey()) + replacements(e.getValue())).sum();
            default -> 0;
        };
    }
}
