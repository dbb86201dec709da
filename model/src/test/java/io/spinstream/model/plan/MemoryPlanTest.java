package io.spinstream.model.plan;

import ai.djl.ndarray.types.DataType;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.lora.LoraConfig;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The plan's arithmetic against figures counted by hand from the published shape (Qwen2.5-0.5B). */
class MemoryPlanTest {
    static final LlamaConfig QWEN25_05B = LlamaConfig.fromJson("""
            {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896,
             "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
             "max_position_embeddings": 32768, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": true,
             "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2}""");

    private static Map<String, Long> parts(MemoryPlan plan) {
        return Stream.concat(plan.held().stream(), plan.peakOf().stream())
                .collect(Collectors.toMap(MemoryPlan.Part::name, MemoryPlan.Part::bytes));
    }

    @Test
    void weightsAndAdapterAreCountedAsPeftCountsThem() {
        MemoryPlan plan = MemoryPlan.of(MemoryPlan.Setup.of(QWEN25_05B, 2048, 4, 16, MemoryPlan.Device.CPU,
                DataType.FLOAT16, DataType.FLOAT32));
        Map<String, Long> p = parts(plan);
        // 494,032,768 parameters (the model card's 0.49B), two bytes each.
        assertThat(p.get("weights")).isEqualTo(494_032_768L * 2);
        // Rank 16 on the seven projections: per layer 16·((896+896) + 2·(896+128) + (896+896) + 3·(896+4864)) = 366,592;
        // × 24 layers = 8,798,208 (PEFT's "trainable params" for this model), × 16 bytes (value, gradient, 2 moments).
        assertThat(p.get("trained parameters + gradients + moments")).isEqualTo(8_798_208L * 16);
        // 25 arrays [4, 2048, 896] in float32 and two float32 gradients of that size.
        assertThat(p.get("activations kept")).isEqualTo(27L * 4 * 2048 * 896 * 4);
        assertThat(plan.peakBytes()).isEqualTo(plan.held().stream().mapToLong(MemoryPlan.Part::bytes).sum()
                + plan.largestPeak().bytes());
        assertThat(plan.peakOf()).extracting(MemoryPlan.Part::bytes).allMatch(b -> b <= plan.largestPeak().bytes());
    }

    @Test
    void fullFineTuningHoldsSixteenBytesAParameter() {
        MemoryPlan plan = MemoryPlan.of(MemoryPlan.Setup.of(QWEN25_05B, 512, 4, 0, MemoryPlan.Device.CPU,
                DataType.FLOAT32, DataType.FLOAT32));
        Map<String, Long> p = parts(plan);
        assertThat(p.get("weights") + p.get("trained parameters + gradients + moments")).isEqualTo(494_032_768L * 16);
        assertThat(p).containsKey("optimiser update");
    }

    @Test
    void checkpointingAndBlocksAreWhatMakeLongSequencesFit() {
        Function<Boolean, MemoryPlan> at = checkpointing -> MemoryPlan.of(new MemoryPlan.Setup(QWEN25_05B, 2048, 4, 16,
                LoraConfig.PROJECTIONS, MemoryPlan.Device.CPU, DataType.FLOAT16, DataType.FLOAT32, checkpointing, 512, 2048, false));
        MemoryPlan with = at.apply(true);
        MemoryPlan without = at.apply(false);
        // Without checkpointing every layer keeps its graph, [4, 14, 2048, 2048] scores included: well past 24 GiB.
        assertThat(without.peakGib()).isGreaterThan(24);
        assertThat(with.peakGib()).isLessThan(8);
        assertThat(with.fits(16L * MemoryPlan.GIB)).isTrue();
        assertThat(without.fits(16L * MemoryPlan.GIB)).isFalse();
        // Longer sequences never need less.
        double last = 0;
        for (int seq : new int[]{256, 512, 1024, 2048, 4096}) {
            double gib = MemoryPlan.of(MemoryPlan.Setup.of(QWEN25_05B, seq, 4, 16, MemoryPlan.Device.CPU, DataType.FLOAT16,
                    DataType.FLOAT32)).peakGib();
            assertThat(gib).isGreaterThan(last);
            last = gib;
        }
    }

    @Test
    void aHalfPrecisionBaseIsOnlyTrainedThroughAnAdapter() {
        assertThatThrownBy(() -> MemoryPlan.Setup.of(QWEN25_05B, 512, 4, 0, MemoryPlan.Device.CPU, DataType.FLOAT16,
                DataType.FLOAT32)).hasMessageContaining("full fine-tuning trains float32 weights");
        assertThatThrownBy(() -> MemoryPlan.Setup.of(QWEN25_05B, 0, 4, 16, MemoryPlan.Device.CPU, DataType.FLOAT16,
                DataType.FLOAT32)).hasMessageContaining("--seq");
    }
}
