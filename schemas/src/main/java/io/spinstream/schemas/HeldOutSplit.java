package io.spinstream.schemas;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The deterministic split of prompts into training and held-out: a prompt is held out when the first
 * 8 bytes of SHA-256("salt:prompt_id"), read as a fraction of 2^64, fall below {@code share}. Every
 * service (and any other language) computes the same split from the id alone; the held-out share of
 * every stream is never trained on and is what the evaluator scores.
 */
public record HeldOutSplit(double share, String salt) {
    public static final HeldOutSplit DEFAULT = new HeldOutSplit(0.1, "spin");

    public HeldOutSplit {
        if (!(share >= 0 && share < 1)) {
            throw new IllegalArgumentException("held-out share must be in [0, 1), got " + share);
        }
    }

    public boolean isHeldOut(String promptId) {
        return fraction(promptId) < share;
    }

    /** Where the id falls in [0, 1). */
    public double fraction(String promptId) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256")
                    .digest((salt + ":" + promptId).getBytes(StandardCharsets.UTF_8));
            long bits = ByteBuffer.wrap(digest, 0, 8).getLong();
            // unsigned 64-bit value / 2^64
            return (double) (bits >>> 11) / (double) (1L << 53);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
