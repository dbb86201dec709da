package io.spinstream.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.DevStack;
import io.spinstream.model.testing.FamilyFolders;
import io.spinstream.model.testing.HfFolders;
import io.spinstream.runtime.PollingService;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.SyntheticResponse;
import io.spinstream.schemas.Verdict;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static io.spinstream.cli.CommandRun.concat;
import static io.spinstream.cli.CommandRun.spin;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every supported family through the product as a user drives it, on the real broker: {@code spin init} of a tiny
 * folder in the family's layout, {@code spin prompts add} of a chat file, the generator, trainer and evaluator until
 * the first verdict (full fine-tuning for some families, LoRA for the others), then {@code spin export} of the
 * candidate, which is the family's own folder again (its class, its tensor names, fused where it fuses).
 */
@BrokerTest
class FamiliesThroughTheServicesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static List<String> families() {
        return FamilyFolders.FAMILIES;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("families")
    void aFamilyGoesFromInitThroughARoundToExport(String family, DevStack stack, @TempDir Path dir) throws Exception {
        boolean lora = FamilyFolders.FAMILIES.indexOf(family) % 2 == 1;
        SpinFixtures f = ThreeServices.fixtures(stack, dir, lora ? Map.of("SPIN_TRAINER_LORA_RANK", "4") : Map.of());
        Path store = dir.resolve("store");
        FamilyFolders.Written folder = FamilyFolders.write(dir.resolve(family), family, 5);
        CommandRun init = spin("init", "--run", f.runId, "--model", folder.dir().toString(), "--bootstrap",
                stack.bootstrapServers(), "--registry", stack.registryUrl(), "--prefix", f.prefix, "--store", store.toString());
        assertThat(init.exit()).as(init.err()).isZero();
        String baseId = f.readAll(f.topics.opponent()).stream().map(OpponentPromotion::getCheckpointId).findFirst().orElseThrow();

        StringBuilder chat = new StringBuilder();
        for (int i = 0; i < 24; i++) {
            chat.append("{\"messages\": [{\"role\": \"user\", \"content\": \"").append(i).append('+').append(i)
                    .append("\"}, {\"role\": \"assistant\", \"content\": \"").append(2 * i).append("\"}]}\n");
        }
        Path file = Files.writeString(dir.resolve("sft.jsonl"), chat);
        CommandRun added = spin(concat(new String[]{"prompts", "add", "--stream", "sft", "--file", file.toString()},
                new String[]{"--bootstrap", stack.bootstrapServers(), "--registry", stack.registryUrl(), "--prefix", f.prefix}));
        assertThat(added.exit()).as(added.err()).isZero();

        List<PollingService> services = ThreeServices.start(f);
        Evaluation verdict;
        try {
            verdict = f.read(f.topics.evaluations(), l -> !l.isEmpty(), Duration.ofSeconds(240)).get(0);
            List<SyntheticResponse> answers = f.answers(l -> !l.isEmpty(), Duration.ofSeconds(10)).stream()
                    .filter(a -> a.getRound() == 0).toList();
            assertThat(answers).isNotEmpty().allMatch(a -> a.getOpponentId().equals(baseId));
        } finally {
            services.forEach(PollingService::stop);
        }
        services.forEach(s -> assertThat(s.failure()).isNull());
        assertThat(verdict.getBaselineId()).isEqualTo(baseId);
        assertThat(verdict.getVerdict()).isIn(Verdict.PROMOTE, Verdict.REJECT);

        CheckpointEvent candidate = f.read(f.topics.checkpoints(), l -> !l.isEmpty(), Duration.ofSeconds(10)).get(0);
        Path exported = dir.resolve("export");
        CommandRun export = lora
                ? spin("export", candidate.getCheckpointId(), exported.toString(), "--store", store.toString(), "--merged")
                : spin("export", candidate.getCheckpointId(), exported.toString(), "--store", store.toString());
        assertThat(export.exit()).as(export.err()).isZero();
        JsonNode config = JSON.readTree(exported.resolve("config.json").toFile());
        assertThat(config.get("architectures").get(0).asText())
                .isEqualTo(folder.config().get("architectures").get(0).asText());
        assertThat(HfFolders.readSafetensors(exported.resolve("model.safetensors")).keySet())
                .as("the family's own tensor names").containsExactlyInAnyOrderElementsOf(
                        FamilyFolders.shapes(family, folder.config()).keySet());
    }
}
