package io.spinstream.generator;

import io.spinstream.runtime.ServiceLauncher;
import io.spinstream.runtime.config.ConfigException;
import io.spinstream.runtime.config.ServiceConfig;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GeneratorConfigTest {
    private static final Map<String, String> BASE = Map.of("SPIN_BOOTSTRAP_SERVERS", "k:9092", "SPIN_REGISTRY_URL", "http://r:8080");

    @Test
    void defaultsAreTheRecommendedSettings() {
        ServiceConfig c = ServiceConfig.load(ServiceLauncher.keys(GeneratorKeys.all()), BASE, Optional.empty(), Map.of());
        GeneratorService.Settings s = GeneratorMain.settings(c);
        assertThat(s.sampling().temperature()).isEqualTo(1.0f);
        assertThat(s.batchSize()).isEqualTo(128);
        assertThat(s.split().share()).isEqualTo(0.1);
        assertThat(io.spinstream.runtime.config.RoundKeys.template(c).name()).as("the checkpoint's own chat template where it has one, else plain")
                .isEqualTo("AUTO");
        assertThat(s.opponents().describe()).isEqualTo("the model in this process (weights float32, compute float32)");
    }

    @Test
    void theOpenAiBackendNeedsTheServersUrl() {
        Map<String, String> env = new java.util.HashMap<>(BASE);
        env.put("SPIN_GENERATOR_BACKEND", "openai");
        assertThatThrownBy(() -> GeneratorMain.settings(ServiceConfig.load(ServiceLauncher.keys(GeneratorKeys.all()), env,
                Optional.empty(), Map.of()))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("spin.generator.backend (env SPIN_GENERATOR_BACKEND)=openai needs spin.generator.openai.url"
                        + " (env SPIN_GENERATOR_OPENAI_URL)");
        env.put("SPIN_GENERATOR_OPENAI_URL", "http://vllm:8000/v1");
        assertThat(GeneratorMain.settings(ServiceConfig.load(ServiceLauncher.keys(GeneratorKeys.all()), env, Optional.empty(), Map.of()))
                .opponents().describe()).isEqualTo("the OpenAI-compatible server at http://vllm:8000/v1/");
        env.put("SPIN_GENERATOR_BACKEND", "vllm");
        assertThatThrownBy(() -> ServiceConfig.load(ServiceLauncher.keys(GeneratorKeys.all()), env, Optional.empty(), Map.of()))
                .hasMessageContaining("spin.generator.backend (env SPIN_GENERATOR_BACKEND): expected");
    }

    @Test
    void badValuesNameTheirKeyAndTheExpectedForm() {
        Map<String, String> env = new java.util.HashMap<>(BASE);
        env.putAll(Map.of("SPIN_GENERATOR_TEMPERATURE", "-1", "SPIN_GENERATOR_TOP_P", "2", "SPIN_PROMPT_TEMPLATE", "fancy",
                "SPIN_GENERATOR_BATCH_SIZE", "0"));
        assertThatThrownBy(() -> ServiceConfig.load(ServiceLauncher.keys(GeneratorKeys.all()), env, Optional.empty(), Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("spin.generator.temperature (env SPIN_GENERATOR_TEMPERATURE): expected a number >= 0, got '-1'")
                .hasMessageContaining("spin.generator.top.p (env SPIN_GENERATOR_TOP_P): expected a number from 0 to 1, got '2'")
                .hasMessageContaining("spin.prompt.template (env SPIN_PROMPT_TEMPLATE): expected auto, model, plain or chat, got 'fancy'")
                .hasMessageContaining("spin.generator.batch.size (env SPIN_GENERATOR_BATCH_SIZE): expected a whole number >= 1, got '0'");
    }

    @Test
    void kSamplesNeedATemperature() {
        Map<String, String> env = new java.util.HashMap<>(BASE);
        env.put("SPIN_GENERATOR_SAMPLES", "4");
        assertThat(GeneratorMain.settings(ServiceConfig.load(ServiceLauncher.keys(GeneratorKeys.all()), env, Optional.empty(), Map.of()))
                .samples()).isEqualTo(4);
        env.put("SPIN_GENERATOR_TEMPERATURE", "0");
        assertThatThrownBy(() -> GeneratorMain.settings(ServiceConfig.load(ServiceLauncher.keys(GeneratorKeys.all()), env,
                Optional.empty(), Map.of()))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("spin.generator.samples (env SPIN_GENERATOR_SAMPLES)=4").hasMessageContaining("4 equal answers");
        env.put("SPIN_GENERATOR_SAMPLES", "0");
        assertThatThrownBy(() -> ServiceConfig.load(ServiceLauncher.keys(GeneratorKeys.all()), env, Optional.empty(), Map.of()))
                .hasMessageContaining("spin.generator.samples");
    }
}
