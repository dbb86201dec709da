package io.spinstream.cli.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The configuration reference is the code's, and a configuration is checked against the same keys. */
class ConfigReferenceTest {
    private final ConfigReference reference = ConfigReference.ofServices();

    @Test
    void theCheckedInReferenceIsWhatTheKeysGenerate() throws Exception {
        Path docs = Path.of("..").resolve(ConfigReference.DOCS_PATH); // tests run in the cli module's folder
        assertThat(docs).exists();
        assertThat(Files.readString(docs, StandardCharsets.UTF_8))
                .as("%s differs from the declared keys: run ./spin config docs", ConfigReference.DOCS_PATH)
                .isEqualTo(reference.markdown());
    }

    @Test
    void everyKeyIsListedWithItsVariableFormDefaultAndReaders() {
        String page = reference.markdown();
        assertThat(page).contains("| `spin.generator.batch.size` | `SPIN_GENERATOR_BATCH_SIZE` | a whole number >= 1 | `128` | generator |");
        assertThat(page).contains("| `spin.bootstrap.servers` | `SPIN_BOOTSTRAP_SERVERS` |");
        assertThat(page.lines().filter(l -> l.startsWith("| `spin.bootstrap.servers`")).findFirst().orElseThrow())
                .contains("| required |").contains("evaluator, generator, init, lion, trainer");
        assertThat(page.lines().filter(l -> l.startsWith("| `spin.")).count()).as("one row per key")
                .isEqualTo(page.lines().filter(l -> l.startsWith("| `spin.")).distinct().count()).isGreaterThan(80);
    }

    @Test
    void aFileIsCheckedWithEveryProblemNamingItsKey(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("spin.properties");
        Files.writeString(file, """
                spin.generator.batch.size=zero
                spin.generater.temperature=1.0
                spin.topic.prefix=team-a
                spin.kafka.security.protocol=SASL_SSL
                """);
        List<String> problems = reference.check(Map.of("SPIN_TRAINER_LR", "fast"), Optional.of(file), Optional.empty());
        assertThat(problems).containsExactlyInAnyOrder(
                file + ": unknown key spin.generater.temperature (did you mean spin.generator.temperature?)",
                "spin.generator.batch.size (env SPIN_GENERATOR_BATCH_SIZE): expected a whole number >= 1, got 'zero'",
                "spin.trainer.lr (env SPIN_TRAINER_LR): expected a number above 0, got 'fast'");

        // As one service starts: its required keys too, and another service's keys are unknown to it.
        List<String> asGenerator = reference.check(Map.of(), Optional.of(file), Optional.of("generator"));
        assertThat(asGenerator).anySatisfy(p -> assertThat(p).startsWith("spin.bootstrap.servers (env SPIN_BOOTSTRAP_SERVERS) is required"));
        assertThat(reference.check(Map.of("SPIN_BOOTSTRAP_SERVERS", "localhost:9092"), Optional.empty(), Optional.empty())).isEmpty();
        assertThatThrownBy(() -> reference.check(Map.of(), Optional.empty(), Optional.of("generater")))
                .hasMessageContaining("--service 'generater': expected one of [evaluator, generator, init, lion, trainer]");
    }
}
