package io.spinstream.cli;

import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.DevStack;
import io.spinstream.model.testing.HfFolders;
import io.spinstream.runtime.PollingService;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.ChatTurn;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.SyntheticResponse;
import io.spinstream.schemas.TrainingPair;
import io.spinstream.schemas.Verdict;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static io.spinstream.cli.CommandRun.concat;
import static io.spinstream.cli.CommandRun.spin;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A team's own chat model and SFT data, as a user would bring them: {@code spin init} on a Hugging Face
 * folder, {@code spin prompts add} of a chat JSON Lines file, the three services on the real broker
 * until the evaluator judges a candidate, then {@code spin export} of it.
 */
@BrokerTest
class OwnModelTest {

    @Test
    void aHuggingFaceChatModelAndAChatFileGoThroughARound(DevStack stack, @TempDir Path dir) throws Exception {
        Path store = dir.resolve("store");
        SpinFixtures f = ThreeServices.fixtures(stack, dir);
        String[] cluster = {"--bootstrap", stack.bootstrapServers(), "--registry", stack.registryUrl(), "--prefix", f.prefix,
                "--store", store.toString()};
        Path model = dir.resolve("my-qwen2");
        HfFolders.write(model, HfFolders.Spec.tinyQwen2());

        CommandRun init = spin(concat(new String[]{"init", "--run", f.runId, "--model", model.toString()}, cluster));
        assertThat(init.exit()).as(init.err()).isZero();
        assertThat(init.out()).contains("imported " + model).contains("is now run " + f.runId + "'s round-0 opponent");
        CommandRun again = spin(concat(new String[]{"init", "--run", f.runId, "--model", model.toString()}, cluster));
        assertThat(again.exit()).as(again.err()).isZero();
        assertThat(again.out()).contains("was in the store already").contains("nothing to do");
        // The same model into another store: the run's opponent lies in the first one, which the services read.
        String[] elsewhere = cluster.clone();
        elsewhere[elsewhere.length - 1] = dir.resolve("other-store").toString();
        CommandRun otherStore = spin(concat(new String[]{"init", "--run", f.runId, "--model", model.toString()}, elsewhere));
        assertThat(otherStore.exit()).isEqualTo(1);
        assertThat(otherStore.err()).contains("was recorded in " + store.toAbsolutePath().normalize())
                .contains("not in this store (" + dir.resolve("other-store").toAbsolutePath().normalize()).contains("--replace")
                .doesNotContain("nothing to do");
        Path other = dir.resolve("other-model");
        HfFolders.write(other, new HfFolders.Spec("Qwen2ForCausalLM", 264, 32, 2, 4, 2, "BF16", 1, HfFolders.CHATML, 8));
        CommandRun refused = spin(concat(new String[]{"init", "--run", f.runId, "--model", other.toString()}, cluster));
        assertThat(refused.exit()).isEqualTo(1);
        assertThat(refused.err()).contains("already has opponent base-").contains("--replace");
        List<OpponentPromotion> opponents = f.readAll(f.topics.opponent());
        assertThat(opponents).as("one promotion, round 0").singleElement()
                .satisfies(p -> assertThat(p.getRound()).isZero());
        String baseId = opponents.get(0).getCheckpointId();

        StringBuilder chat = new StringBuilder();
        for (int i = 0; i < 32; i++) {
            chat.append("{\"messages\": [{\"role\": \"system\", \"content\": \"Add.\"}, {\"role\": \"user\", \"content\": \"")
                    .append(i).append('+').append(i).append("\"}, {\"role\": \"assistant\", \"content\": \"").append(2 * i)
                    .append("\"}], \"task\": {\"kind\": \"addition\", \"verifiable\": true}}\n");
        }
        Path file = Files.writeString(dir.resolve("sft.jsonl"), chat);
        CommandRun added = spin(concat(new String[]{"prompts", "add", "--stream", "sft", "--file", file.toString()},
                new String[]{"--bootstrap", stack.bootstrapServers(), "--registry", stack.registryUrl(), "--prefix", f.prefix}));
        assertThat(added.exit()).as(added.err()).isZero();
        assertThat(added.out()).contains("format: chat").contains("added 32 prompts");

        List<PollingService> services = ThreeServices.start(f);
        Evaluation verdict;
        try {
            verdict = f.read(f.topics.evaluations(), l -> !l.isEmpty(), Duration.ofSeconds(240)).get(0);
            List<SyntheticResponse> answers = f.answers(l -> !l.isEmpty(), Duration.ofSeconds(10)).stream()
                    .filter(a -> a.getRound() == 0).toList();
            assertThat(answers).isNotEmpty().allMatch(a -> a.getOpponentId().equals(baseId));
            // The model's own ChatML template: "<|im_start|>system\nAdd.<|im_end|>\n<|im_start|>user\n" + "i+i"
            // + "<|im_end|>\n<|im_start|>assistant\n" is 5 special tokens and 31 bytes besides the 3 or 5 of "i+i"
            // (the plain layout would be those 3 or 5 alone).
            assertThat(answers).extracting(SyntheticResponse::getPromptTokens).containsOnly(36, 38);
            List<TrainingPair> pairs = f.read(f.topics.pairs(), l -> !l.isEmpty(), Duration.ofSeconds(10));
            assertThat(pairs.get(0).getMessages()).extracting(ChatTurn::getRole).containsExactly("system", "user");
        } finally {
            services.forEach(PollingService::stop);
        }
        services.forEach(s -> assertThat(s.failure()).isNull());
        assertThat(verdict.getBaselineId()).isEqualTo(baseId);
        assertThat(verdict.getVerdict()).isIn(Verdict.PROMOTE, Verdict.REJECT);
        assertThat(verdict.getMetrics()).containsKeys("heldout_nll", "exact_match");

        CheckpointEvent candidate = f.read(f.topics.checkpoints(), l -> !l.isEmpty(), Duration.ofSeconds(10)).get(0);
        Path exported = dir.resolve("export");
        CommandRun export = spin("export", candidate.getCheckpointId(), exported.toString(), "--store", store.toString());
        assertThat(export.exit()).as(export.err()).isZero();
        for (String name : List.of("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                "generation_config.json")) {
            assertThat(exported.resolve(name)).as(name).isRegularFile();
        }
        assertThat(Files.readString(exported.resolve("tokenizer_config.json"))).contains("<|im_start|>");

        // With the services stopped, --replace starts the run over from another model: round 0 again, and the
        // generators' groups deleted so that round 0 answers every prompt again.
        CommandRun replaced = spin(concat(new String[]{"init", "--run", f.runId, "--model", other.toString(), "--replace"}, cluster));
        assertThat(replaced.exit()).as(replaced.err()).isZero();
        assertThat(replaced.out()).contains("(replacing ");
        OpponentPromotion now = f.readAll(f.topics.opponent()).stream()
                .filter(p -> p.getRunId().equals(f.runId)).reduce((a, b) -> b).orElseThrow();
        assertThat(now.getRound()).isZero();
        assertThat(now.getCheckpointId()).isNotEqualTo(baseId).startsWith("base-");
        try (Admin admin = Admin.create(f.kafka.admin())) {
            assertThat(admin.listConsumerGroups().all().get().stream().map(g -> g.groupId()))
                    .noneMatch(g -> g.startsWith(f.prefix + "-generator-r"));
        }
    }
}
