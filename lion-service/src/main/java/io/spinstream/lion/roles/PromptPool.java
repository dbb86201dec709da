package io.spinstream.lion.roles;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The prompts of Lion's pools, as ROUGE-L sees them: a new prompt is kept only when its ROUGE-L against every
 * prompt already in the pools is below the threshold (0.7 in the paper), which keeps near-copies out.
 */
public final class PromptPool {
    private final double threshold;
    private final List<List<String>> tokenized = new ArrayList<>();
    private final Set<String> ids = new HashSet<>();

    public PromptPool(double threshold) {
        if (!(threshold > 0 && threshold <= 1)) {
            throw new IllegalArgumentException("threshold must be in (0, 1], got " + threshold);
        }
        this.threshold = threshold;
    }

    /** Adds a prompt read from a pool (once per id: a pool topic is compacted, its records may be read twice). */
    public void add(String id, String prompt) {
        if (ids.add(id)) {
            tokenized.add(RougeL.tokens(prompt));
        }
    }

    public boolean contains(String id) {
        return ids.contains(id);
    }

    public int size() {
        return ids.size();
    }

    /** Whether {@code prompt} is far enough from every pooled prompt to be kept. */
    public boolean isNovel(String prompt) {
        List<String> t = RougeL.tokens(prompt);
        if (t.isEmpty()) {
            return false;
        }
        for (List<String> other : tokenized) {
            if (RougeL.f(t, other) >= threshold) {
                return false;
            }
        }
        return true;
    }
}
