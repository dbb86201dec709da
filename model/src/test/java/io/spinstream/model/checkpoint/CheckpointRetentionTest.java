package io.spinstream.model.checkpoint;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CheckpointRetentionTest {

    private static CheckpointMetadata m(String id, String parent, int round, long step, String createdAt) {
        return new CheckpointMetadata(1, id, parent, round, step, createdAt, "model.safetensors", "00", Map.of(), Map.of(), "11", null, null, null);
    }

    @Test
    void opponentsOpenCandidatesTheResumePointAndTheNewestOthersAreKept() {
        List<CheckpointMetadata> store = List.of(
                m("base", null, 0, 0, "2026-12-01T10:00:00Z"),
                m("r0-s10", "base", 0, 10, "2026-12-01T10:01:00Z"),   // refused
                m("r0-s20", "base", 0, 20, "2026-12-01T10:02:00Z"),   // promoted: opponent of round 1
                m("r0-s30", "base", 0, 30, "2026-12-01T10:03:00Z"),   // stale once r0-s20 was promoted
                m("r1-s10", "r0-s20", 1, 10, "2026-12-01T10:04:00Z"), // promoted: opponent of round 2, in force
                m("r1-s20", "r0-s20", 1, 20, "2026-12-01T10:06:00.500Z"), // stale, written half a second after r2-s10
                m("r2-s10", "r1-s10", 2, 10, "2026-12-01T10:06:00Z"), // refused
                m("r2-s20", "r1-s10", 2, 20, "2026-12-01T10:08:00Z"), // open: not judged yet (the same second)
                m("r2-s30", "r1-s10", 2, 30, "2026-12-01T10:08:00.250Z")); // the resume point
        List<CheckpointRetention.Decision> plan = new CheckpointRetention(1).plan(store, "r1-s10", Set.of("r0-s10", "r2-s10"));
        Map<String, String> kind = plan.stream().collect(Collectors.toMap(CheckpointRetention.Decision::id,
                d -> d.getClass().getSimpleName() + ": " + d.reason()));
        assertThat(kind).containsEntry("r1-s10", "KeepWeights: the opponent in force")
                .containsEntry("r0-s20", "KeepWeights: promoted (an ancestor of the opponent)")
                .containsEntry("base", "KeepWeights: promoted (an ancestor of the opponent)")
                .containsEntry("r2-s30", "Keep: the trainer's resume point")
                .containsEntry("r2-s20", "Keep: a candidate of the current round not refused yet")
                .containsEntry("r1-s20", "KeepWeights: one of the newest 1 others")
                .containsEntry("r2-s10", "Delete: refused, older than the newest 1")
                .containsEntry("r0-s30", "Delete: stale (trained from an earlier opponent), older than the newest 1")
                .containsEntry("r0-s10", "Delete: refused, older than the newest 1");
        assertThat(plan).hasSize(store.size());

        // Without an opponent in force (none promoted yet) nothing counts as promoted or resumable.
        assertThat(new CheckpointRetention(0).plan(store, null, Set.of()))
                .allMatch(d -> d instanceof CheckpointRetention.Decision.Delete);
        assertThatThrownBy(() -> new CheckpointRetention(-1)).hasMessageContaining(">= 0");
    }

    @Test
    void theBaseOfAKeptAdapterIsKeptWhateverElseWouldDeleteIt() {
        // "other" was promoted once by hand (not in the opponent's lineage); a kept adapter was trained over it.
        List<CheckpointMetadata> store = List.of(
                m("base", null, 0, 0, "2026-12-01T10:00:00Z"),
                m("other", null, 0, 0, "2026-12-01T10:00:30Z"),
                m("ra", "other", 1, 10, "2026-12-01T10:01:00Z").adapterOver("other", "00"),
                m("rb", "base", 0, 10, "2026-12-01T10:02:00Z").adapterOver("base", "00"));
        Map<String, String> kind = new CheckpointRetention(1).plan(store, "rb", Set.of()).stream()
                .collect(Collectors.toMap(CheckpointRetention.Decision::id, d -> d.getClass().getSimpleName() + ": " + d.reason()));
        assertThat(kind).containsEntry("rb", "KeepWeights: the opponent in force")
                .containsEntry("base", "KeepWeights: promoted (an ancestor of the opponent)")
                .containsEntry("ra", "KeepWeights: one of the newest 1 others")
                .containsEntry("other", "KeepWeights: the base of LoRA adapter ra");
        assertThat(new CheckpointRetention(0).plan(store, "rb", Set.of()).stream()
                .filter(d -> d instanceof CheckpointRetention.Decision.Delete).map(CheckpointRetention.Decision::id))
                .containsExactlyInAnyOrder("ra", "other");
    }
}
