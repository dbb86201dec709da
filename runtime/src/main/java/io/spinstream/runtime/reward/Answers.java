package io.spinstream.runtime.reward;

import java.util.Locale;

/** How answers are compared when exactness is asked: trimmed, white space collapsed, case folded. */
public final class Answers {
    private Answers() {
    }

    public static String normalise(String s) {
        return s.trim().replaceAll("\\s+", " ").toLowerCase(Locale.ROOT);
    }
}
