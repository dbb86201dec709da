package io.spinstream.schemas;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The deterministic split of prompts into training, held-out and test: with f the first 8 bytes of
 * SHA-256("salt:prompt_id") read as a fraction of 2^64, a prompt is held out when f &lt; {@code share}
 * and test when {@code share} &le; f &lt; {@code share + testShare}. Every service (and any other
 * language) computes the same split from the id alone. Neither held-out nor test prompts are ever
 * trained on; the evaluator's gate scores the held-out ones; no decision reads the test ones: they are
 * for reports only (a maximum selected on a split is biased upward on that split).
 */
public record HeldOutSplit(double share, String salt, double testShare) {
    public static final HeldOutSplit DEFAULT = new HeldOutSplit(0.1, "spin", 0.1);

    public HeldOutSplit {
        if (!(share >= 0 && share < 1)) {
            throw new IllegalArgumentException("held-out share must be in [0, 1), got " + share);
        }
        if (!(testShare >= 0 && share + testShare < 1)) {
            throw new IllegalArgumentException("test share must be >= 0 with held-out + test < 1, got " + testShare);
        }
    }

    /** Held out only, no test split. */
    public HeldOutSplit(double share, String salt) {
        this(share, salt, 0);
    }

    public boolean isHeldOut(String promptId) {
        return fraction(promptId) < share;
    }

    public boolean isTest(String promptId) {
        double f = fraction(promptId);
        return f >= share && f < share + testShare;
    }

    /** Neither held out nor test: the only prompts anything is trained on. */
    public boolean isTraining(String promptId) {
        return fraction(promptId) >= share + testShare;
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
