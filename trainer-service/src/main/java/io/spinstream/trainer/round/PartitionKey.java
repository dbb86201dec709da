package io.spinstream.trainer.round;

import java.util.HashMap;
import java.util.Map;

/**
 * A partition of the pairs topic, and the one codec of consumed offsets: checkpoints keep them as
 * {@code "topic-partition" → offset} (topic names may contain dashes; the partition follows the last one).
 */
public record PartitionKey(String topic, int partition) {

    public static PartitionKey parse(String encoded) {
        int dash = encoded.lastIndexOf('-');
        if (dash <= 0 || dash == encoded.length() - 1) {
            throw new IllegalArgumentException("consumed offset key '" + encoded + "': expected topic-partition");
        }
        return new PartitionKey(encoded.substring(0, dash), Integer.parseInt(encoded.substring(dash + 1)));
    }

    public String encoded() {
        return topic + "-" + partition;
    }

    /** Offsets as checkpoints keep them, decoded (null or empty: none). */
    public static Map<PartitionKey, Long> decode(Map<String, Long> offsets) {
        Map<PartitionKey, Long> out = new HashMap<>();
        if (offsets != null) {
            offsets.forEach((k, v) -> out.put(parse(k), v));
        }
        return out;
    }

    public static Map<String, Long> encode(Map<PartitionKey, Long> offsets) {
        Map<String, Long> out = new HashMap<>();
        offsets.forEach((k, v) -> out.put(k.encoded(), v));
        return out;
    }
}
