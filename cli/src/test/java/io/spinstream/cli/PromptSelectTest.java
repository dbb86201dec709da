package io.spinstream.cli;

import ai.djl.ndarray.NDManager;
import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.DevStack;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.tokenizer.ByteLevelBpe;
import io.spinstream.runtime.kafka.KafkaSettings;
import io.spinstream.runtime.kafka.TopicReader;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.Topics;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code spin prompts select} on the real broker: a stream's subset, embedded by a checkpoint, into another stream. */
@BrokerTest
class PromptSelectTest {

    @Test
    void aSeededSubsetGoesToTheOtherStreamWithItsIds(DevStack stack, @TempDir Path dir) throws Exception {
        String prefix = "sel" + UUID.randomUUID().toString().substring(0, 6);
        String[] cluster = {"--bootstrap", stack.bootstrapServers(), "--registry", stack.registryUrl(), "--prefix", prefix};
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < 24; i++) {
            String text = i % 2 == 0 ? i + "+" + i + "=" : "Tell me about the number " + i + ".";
            lines.append("{\"prompt_id\": \"p").append(i).append("\", \"prompt\": \"").append(text)
                    .append("\", \"human_response\": \"x\"}\n");
        }
        Path file = Files.writeString(dir.resolve("pool.jsonl"), lines);
        assertThat(CommandRun.spin(CommandRun.concat(new String[]{"prompts", "add", "--stream", "pool", "--file", file.toString()},
                cluster)).exit()).isZero();
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        Path tokenizer = dir.resolve("tokenizer.json");
        ByteLevelBpe.write(tokenizer, ByteLevelBpe.bytesOnly());
        try (NDManager m = NDManager.newBaseManager(); LlamaModel model = SpinFixtures.tinyModel(m, 1)) {
            store.save(model, tokenizer, CheckpointMetadata.of("base", null, 0, 0, null, null));
        }

        String[] select = {"prompts", "select", "--from", "pool", "--k", "6", "--checkpoint", "base", "--store", store.root().toString(),
                "--seed", "3"};
        CommandRun first = CommandRun.spin(CommandRun.concat(CommandRun.concat(select, new String[]{"--to", "picked"}), cluster));
        assertThat(first.exit()).as(first.err()).isZero();
        assertThat(first.out()).contains("selected 6 of 24 prompts of stream pool (kcenter, 3 k-means groups, seed 3) into stream picked");
        CommandRun again = CommandRun.spin(CommandRun.concat(CommandRun.concat(select, new String[]{"--to", "again"}), cluster));
        assertThat(again.exit()).as(again.err()).isZero();
        CommandRun random = CommandRun.spin(CommandRun.concat(new String[]{"prompts", "select", "--from", "pool", "--to", "rnd",
                "--k", "5", "--method", "random"}, cluster));
        assertThat(random.exit()).as(random.err()).isZero();
        CommandRun tooMany = CommandRun.spin(CommandRun.concat(new String[]{"prompts", "select", "--from", "pool", "--to", "x",
                "--k", "25", "--method", "random"}, cluster));
        assertThat(tooMany.exit()).isEqualTo(2);
        assertThat(tooMany.err()).contains("--k must be from 1 to the 24 prompts of stream pool");

        TopicReader reader = new TopicReader(KafkaSettings.of(stack.bootstrapServers()));
        Topics topics = new Topics(prefix, Topics.Layout.LOCAL, new io.spinstream.schemas.AvroSerdes(stack.registryUrl()));
        List<Prompt> picked = reader.values(topics.prompts("picked"));
        Set<String> ids = picked.stream().map(Prompt::getPromptId).collect(Collectors.toSet());
        assertThat(ids).hasSize(6).allMatch(id -> id.matches("p([0-9]|1[0-9]|2[0-3])"));
        assertThat(picked).allMatch(p -> p.getStream().equals("picked"));
        assertThat(reader.values(topics.prompts("again")).stream().map(Prompt::getPromptId).collect(Collectors.toSet()))
                .as("the same seed, the same subset").isEqualTo(ids);
        assertThat(reader.values(topics.prompts("rnd"))).hasSize(5);
    }
}
