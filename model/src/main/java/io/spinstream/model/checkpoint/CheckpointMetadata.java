package io.spinstream.model.checkpoint;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.Map;

/**
 * {@code spinstream.json}: a checkpoint's lineage and the sha256 of its weights file. It is written last,
 * so a checkpoint folder without it was never completed.
 *
 * @param parentId the opponent this checkpoint was trained from (null for a base)
 * @param offsets  consumed offsets by "topic-partition" (the trainer resumes from them)
 * @param adapter  "lora" for a PEFT adapter over {@code baseId} (weights_file is then the adapter's), else null
 * @param baseId   the checkpoint an adapter applies to (in the same store); its weights' sha256 is {@code baseSha256}
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CheckpointMetadata(
        @JsonProperty("format") int format,
        @JsonProperty("id") String id,
        @JsonProperty("parent_id") String parentId,
        @JsonProperty("round") int round,
        @JsonProperty("step") long step,
        @JsonProperty("created_at") String createdAt,
        @JsonProperty("weights_file") String weightsFile,
        @JsonProperty("sha256") String sha256,
        @JsonProperty("metrics") Map<String, Double> metrics,
        @JsonProperty("offsets") Map<String, Long> offsets,
        @JsonProperty("training_state_sha256") String trainingStateSha256,
        @JsonProperty("adapter") String adapter,
        @JsonProperty("base_id") String baseId,
        @JsonProperty("base_sha256") String baseSha256,
        @JsonProperty("files") Map<String, String> files) {

    public static final String LORA = "lora";

    public static final int FORMAT = 1;

    public CheckpointMetadata {
        metrics = metrics == null ? Map.of() : Map.copyOf(metrics);
        offsets = offsets == null ? Map.of() : Map.copyOf(offsets);
        files = files == null ? Map.of() : Map.copyOf(files);
    }

    /** As the record, without the sha256 of the other files (what checkpoints of earlier versions hold). */
    public CheckpointMetadata(int format, String id, String parentId, int round, long step, String createdAt, String weightsFile,
                              String sha256, Map<String, Double> metrics, Map<String, Long> offsets, String trainingStateSha256,
                              String adapter, String baseId, String baseSha256) {
        this(format, id, parentId, round, step, createdAt, weightsFile, sha256, metrics, offsets, trainingStateSha256, adapter,
                baseId, baseSha256, Map.of());
    }

    /** What a writer states; the store fills in the format, time, file and sha256. */
    public static CheckpointMetadata of(String id, String parentId, int round, long step, Map<String, Double> metrics,
                                        Map<String, Long> offsets) {
        return new CheckpointMetadata(FORMAT, id, parentId, round, step, null, null, null, metrics, offsets, null, null, null,
                null);
    }

    /** The same, stating that it is a LoRA adapter over checkpoint {@code base}. */
    public CheckpointMetadata adapterOver(CheckpointMetadata base) {
        return adapterOver(base.id(), base.sha256());
    }

    /** The same, stating that it is a LoRA adapter over checkpoint {@code baseId}, whose weights have {@code baseSha256}. */
    public CheckpointMetadata adapterOver(String baseId, String baseSha256) {
        return new CheckpointMetadata(format, id, parentId, round, step, createdAt, weightsFile, sha256, metrics, offsets,
                trainingStateSha256, LORA, baseId, baseSha256, files);
    }

    public boolean isAdapter() {
        return adapter != null;
    }

    CheckpointMetadata sealed(String createdAt, String weightsFile, String sha256, String stateSha256, Map<String, String> files) {
        return new CheckpointMetadata(FORMAT, id, parentId, round, step, createdAt, weightsFile, sha256, metrics, offsets,
                stateSha256, adapter, baseId, baseSha256, files);
    }

    CheckpointMetadata withoutTrainingState() {
        return new CheckpointMetadata(format, id, parentId, round, step, createdAt, weightsFile, sha256, metrics, offsets,
                null, adapter, baseId, baseSha256, files);
    }
}
