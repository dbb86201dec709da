package io.spinstream.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static io.spinstream.cli.CommandRun.spin;
import static org.assertj.core.api.Assertions.assertThat;

/** `spin plan` from a shape or a folder's config.json: the table, the verdict, the last line; bad flags named. */
class PlanCommandTest {

    @Test
    void aPlanByPartWithItsVerdict() {
        CommandRun fits = spin("plan", "--shape", "qwen2.5-0.5b", "--seq", "2048", "--batch", "4", "--memory", "16");
        assertThat(fits.exit()).as(fits.err()).isZero();
        assertThat(fits.out()).contains("| weights | 0.92 | 494,032,768 parameters × 2 B (float16) |")
                .contains("| trained parameters + gradients + moments | 0.13 | LoRA rank 16: 8,798,208 float32 parameters")
                .containsPattern("fits in 16\\.0 GiB")
                .containsPattern("(?m)^plan_gib=\\d+\\.\\d\\d memory_gib=16\\.0 fits=true$");
        CommandRun full8b = spin("plan", "--shape", "llama3.1-8b", "--seq", "4096", "--lora", "0", "--device", "cuda");
        assertThat(full8b.exit()).as("does not fit: exit 3").isEqualTo(3);
        assertThat(full8b.out()).contains("does NOT fit in 80.0 GiB").contains("fits=false");
    }

    @Test
    void aFolderIsPlannedFromItsConfigAloneAndBadFlagsAreNamed(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("config.json"), """
                {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 1000, "hidden_size": 64,
                 "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                 "max_position_embeddings": 512, "rope_theta": 10000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": true,
                 "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2}""");
        CommandRun folder = spin("plan", "--model", dir.toString(), "--seq", "128", "--lora", "0");
        assertThat(folder.exit()).as(folder.err()).isZero();
        assertThat(folder.out()).contains("full fine-tuning, float32 weights").contains("fits=true");
        CommandRun device = spin("plan", "--shape", "qwen2.5-0.5b", "--seq", "128", "--device", "tpu");
        assertThat(device.exit()).isEqualTo(2);
        assertThat(device.err()).contains("--device 'tpu': expected cpu or cuda");
        CommandRun half = spin("plan", "--shape", "qwen2.5-0.5b", "--seq", "128", "--lora", "0", "--dtype", "float16");
        assertThat(half.exit()).isEqualTo(2);
        assertThat(half.err()).contains("full fine-tuning (--lora 0) trains float32 weights");
    }
}
