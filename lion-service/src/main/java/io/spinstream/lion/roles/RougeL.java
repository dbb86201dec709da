package io.spinstream.lion.roles;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * ROUGE-L F-measure (Lin 2004) between two texts, tokenized as Google's {@code rouge_score} does without a stemmer
 * (the scorer Lion's code uses): lower-cased, every run of characters other than ASCII letters and digits a
 * separator. F = 2PR / (P + R) with P = LCS / |candidate| and R = LCS / |reference|.
 */
public final class RougeL {
    private RougeL() {
    }

    public static List<String> tokens(String text) {
        List<String> out = new ArrayList<>();
        for (String t : text.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", " ").trim().split(" ")) {
            if (!t.isEmpty()) {
                out.add(t);
            }
        }
        return out;
    }

    public static double f(String candidate, String reference) {
        return f(tokens(candidate), tokens(reference));
    }

    public static double f(List<String> candidate, List<String> reference) {
        if (candidate.isEmpty() || reference.isEmpty()) {
            return 0;
        }
        int lcs = lcs(candidate, reference);
        if (lcs == 0) {
            return 0;
        }
        double p = (double) lcs / candidate.size();
        double r = (double) lcs / reference.size();
        return 2 * p * r / (p + r);
    }

    /** Length of the longest common subsequence, in two rows of the usual table. */
    static int lcs(List<String> a, List<String> b) {
        int[] prev = new int[b.size() + 1];
        int[] row = new int[b.size() + 1];
        for (String x : a) {
            for (int j = 1; j <= b.size(); j++) {
                row[j] = x.equals(b.get(j - 1)) ? prev[j - 1] + 1 : Math.max(prev[j], row[j - 1]);
            }
            int[] t = prev;
            prev = row;
            row = t;
        }
        return prev[b.size()];
    }
}
