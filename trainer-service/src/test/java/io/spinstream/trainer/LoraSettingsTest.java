package io.spinstream.trainer;

import io.spinstream.model.Precision;
import io.spinstream.model.lora.LoraConfig;
import io.spinstream.runtime.config.ConfigException;
import io.spinstream.runtime.config.ServiceConfig;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The trainer's LoRA and dtype keys as a deployment writes them, checked at start. */
class LoraSettingsTest {
    private static Map<String, String> env(String... kv) {
        Map<String, String> env = new HashMap<>(Map.of("SPIN_BOOTSTRAP_SERVERS", "localhost:9092", "SPIN_REGISTRY_URL",
                "http://localhost:8081", "SPIN_CHECKPOINT_STORE", "/tmp/store", "SPIN_DEVICE", "cpu"));
        for (int i = 0; i < kv.length; i += 2) {
            env.put(kv[i], kv[i + 1]);
        }
        return env;
    }

    private static TrainerService.Settings settings(Map<String, String> env) {
        return TrainerMain.settings(ServiceConfig.load(TrainerKeys.all(), env, Optional.empty(), Map.of()));
    }

    @Test
    void rankZeroIsFullFineTuningAndARankTrainsAPeftStyleAdapter() {
        assertThat(settings(env()).round().training().lora()).isNull();
        var lora = settings(env("SPIN_TRAINER_LORA_RANK", "8", "SPIN_TRAINER_LORA_ALPHA", "32", "SPIN_TRAINER_LORA_TARGETS",
                "q_proj, v_proj", "SPIN_MODEL_DTYPE", "float16")).round().training();
        assertThat(lora.lora()).isEqualTo(new LoraConfig(8, 32, 0, List.of("q_proj", "v_proj"), false));
        assertThat(lora.lora().scale()).isEqualTo(4.0);
        assertThat(lora.basePrecision()).isEqualTo(new Precision(ai.djl.ndarray.types.DataType.FLOAT16, ai.djl.ndarray.types.DataType.FLOAT32));
    }

    @Test
    void badValuesNameTheirKey() {
        assertThatThrownBy(() -> settings(env("SPIN_MODEL_DTYPE", "float16"))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("spin.trainer.lora.rank").hasMessageContaining("spin.model.dtype");
        assertThatThrownBy(() -> settings(env("SPIN_MODEL_DTYPE", "bfloat16"))).hasMessageContaining("spin.model.dtype")
                .hasMessageContaining("bfloat16 is not available");
        assertThatThrownBy(() -> settings(env("SPIN_TRAINER_LORA_RANK", "4", "SPIN_TRAINER_LORA_TARGETS", "q_proj,lm_head")))
                .hasMessageContaining("spin.trainer.lora.targets").hasMessageContaining("q_proj, k_proj");
        assertThatThrownBy(() -> settings(env("SPIN_TRAINER_LORA_RANK", "-1"))).hasMessageContaining("spin.trainer.lora.rank");
    }
}
