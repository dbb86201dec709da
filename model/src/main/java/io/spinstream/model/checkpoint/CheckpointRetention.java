package io.spinstream.model.checkpoint;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the store keeps, as pure logic over its checkpoints: every promoted opponent (the current one and
 * its ancestors), every candidate still open (not refused, trained from the opponent in force, so it may
 * yet be evaluated or promoted), the trainer's resume point (the newest candidate of the current round),
 * and the newest {@code keep} others; the rest is deleted. Only the resume point and open candidates keep
 * their optimiser state: no other checkpoint can be resumed from.
 */
public record CheckpointRetention(int keep) {

    public CheckpointRetention {
        if (keep < 0) {
            throw new IllegalArgumentException("keep must be >= 0, got " + keep);
        }
    }

    /** What happens to one checkpoint, and why. */
    public sealed interface Decision {
        String id();

        String reason();

        /** Kept whole, optimiser state included. */
        record Keep(String id, String reason) implements Decision {
        }

        /** Kept for its weights; its optimiser state is dropped. */
        record KeepWeights(String id, String reason) implements Decision {
        }

        record Delete(String id, String reason) implements Decision {
        }
    }

    /**
     * @param checkpoints every checkpoint of the store
     * @param opponentId  the opponent in force (empty when none is)
     * @param refused     checkpoints with a REJECT or INVALID verdict: never promoted
     */
    public List<Decision> plan(List<CheckpointMetadata> checkpoints, String opponentId, Set<String> refused) {
        Map<String, CheckpointMetadata> byId = new HashMap<>();
        checkpoints.forEach(m -> byId.put(m.id(), m));
        Map<String, Integer> lineage = new HashMap<>(); // promoted: the opponent and its ancestors, with their depth
        Set<String> seen = new HashSet<>();
        for (String id = opponentId; id != null && byId.containsKey(id) && seen.add(id); id = byId.get(id).parentId()) {
            lineage.put(id, seen.size() - 1);
        }
        String resume = checkpoints.stream().filter(m -> opponentId != null && opponentId.equals(m.parentId()))
                .max(Comparator.comparingLong(CheckpointMetadata::step)).map(CheckpointMetadata::id).orElse(null);
        List<CheckpointMetadata> newestFirst = new ArrayList<>(checkpoints);
        newestFirst.sort(Comparator.comparing(CheckpointRetention::created).thenComparingLong(CheckpointMetadata::step).reversed());
        List<Decision> out = new ArrayList<>();
        int others = 0;
        for (CheckpointMetadata m : newestFirst) {
            String id = m.id();
            if (lineage.containsKey(id)) {
                int depth = lineage.get(id);
                out.add(new Decision.KeepWeights(id, depth == 0 ? "the opponent in force" : "promoted (an ancestor of the opponent)"));
            } else if (id.equals(resume)) {
                out.add(new Decision.Keep(id, "the trainer's resume point"));
            } else if (opponentId != null && opponentId.equals(m.parentId()) && !refused.contains(id)) {
                out.add(new Decision.Keep(id, "a candidate of the current round not refused yet"));
            } else if (others < keep) {
                others++;
                out.add(new Decision.KeepWeights(id, "one of the newest " + keep + " others"));
            } else {
                out.add(new Decision.Delete(id, refused.contains(id) ? "refused, older than the newest " + keep
                        : "stale (trained from an earlier opponent), older than the newest " + keep));
            }
        }
        return keepBases(out, byId);
    }

    /** A LoRA adapter is nothing without its base: a base that would be deleted is kept for what needs it. */
    private static List<Decision> keepBases(List<Decision> decisions, Map<String, CheckpointMetadata> byId) {
        Map<String, Decision> byDecision = new java.util.LinkedHashMap<>();
        decisions.forEach(d -> byDecision.put(d.id(), d));
        boolean changed = true;
        while (changed) {
            changed = false;
            for (Decision d : List.copyOf(byDecision.values())) {
                CheckpointMetadata m = byId.get(d.id());
                if (d instanceof Decision.Delete || m == null || m.baseId() == null) {
                    continue;
                }
                if (byDecision.get(m.baseId()) instanceof Decision.Delete) {
                    byDecision.put(m.baseId(), new Decision.KeepWeights(m.baseId(), "the base of LoRA adapter " + d.id()));
                    changed = true;
                }
            }
        }
        return List.copyOf(byDecision.values());
    }

    private static java.time.Instant created(CheckpointMetadata m) {
        try {
            return m.createdAt() == null ? java.time.Instant.EPOCH : java.time.Instant.parse(m.createdAt());
        } catch (java.time.format.DateTimeParseException e) {
            return java.time.Instant.EPOCH;
        }
    }
}
