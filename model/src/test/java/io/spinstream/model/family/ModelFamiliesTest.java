package io.spinstream.model.family;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spinstream.model.Generator;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.LogProbs;
import io.spinstream.model.NoGrad;
import io.spinstream.model.Sampling;
import io.spinstream.model.TokenBatch;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.checkpoint.HfImport;
import io.spinstream.model.checkpoint.LoadedCheckpoint;
import io.spinstream.model.lora.LoraAdapter;
import io.spinstream.model.lora.LoraConfig;
import io.spinstream.model.objective.Sft;
import io.spinstream.model.testing.FamilyFolders;
import io.spinstream.model.testing.HfFolders;
import io.spinstream.model.testing.TransformersReference;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.model.tokenizer.SpinTokenizer;
import io.spinstream.model.train.AdamW;
import io.spinstream.model.train.LearningRateSchedule;
import io.spinstream.model.train.PreferenceBatch;
import io.spinstream.model.train.StepResult;
import io.spinstream.model.train.TrainStep;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import java.util.Set;

/**
 * Each supported family end to end on a tiny folder in its real layout: imported as a base (spin init), its per-token
 * log-probs equal to an independent double-precision reference written from transformers' formulas, generation with
 * the KV cache equal to full recomputation and to the reference's greedy choices (past the sliding window), a full
 * fine-tuning step and a LoRA step that lower the loss, and both exported in the family's own layout (tensor names,
 * fused projections, config) computing what the reference computes on the exported files.
 */
class ModelFamiliesTest {
    static final double TOLERANCE = 1e-4;
    private static final ObjectMapper JSON = new ObjectMapper();
    NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    static List<String> families() {
        return FamilyFolders.FAMILIES;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("families")
    void aFamilyFolderGoesThroughInitTrainingAndExportComputingWhatTransformersComputes(String family, @TempDir Path dir)
            throws IOException {
        FamilyFolders.Written folder = FamilyFolders.write(dir.resolve(family), family, 17);
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        HfImport.Imported base = HfImport.into(store, folder.dir(), manager, n -> {
        });
        String architecture = folder.config().get("architectures").get(0).asText();

        List<TokenBatch.Example> examples;
        List<int[]> prompts = new ArrayList<>();
        try (LoadedCheckpoint ckpt = store.load(base.metadata().id(), manager);
             SpinTokenizer tok = SpinTokenizer.load(ckpt.tokenizerJson(), PromptTemplate.AUTO,
                     ckpt.model().config().eosTokenId())) {
            LlamaModel model = ckpt.model();
            assertThat(model.config().architecture()).isEqualTo(architecture);
            assertThat(model.config().eosTokenId()).as("the template's end of turn ends an answer").isEqualTo(folder.eos());
            for (JsonNode id : folder.config().get("eos_token_id").isArray() ? folder.config().get("eos_token_id")
                    : List.of(folder.config().get("eos_token_id"))) {
                assertThat(model.config().stopTokens()).as("every eos id stops generation").contains(id.asInt());
            }
            int[] prompt = tok.encodePrompt("the water is at the station");
            assertThat(Arrays.stream(prompt).anyMatch(t -> t >= 256 && t < 256 + 12)).as("BPE merges applied").isTrue();
            examples = List.of(new TokenBatch.Example(prompt, tok.encodeResponse(" in the winter, then at the sea")),
                    new TokenBatch.Example(tok.encodePrompt("is it?"), tok.encodeResponse(" at")));
            prompts.add(prompt);
            prompts.add(tok.encodePrompt("is it?"));

            double worst = worstLogProbDifference(model, new TransformersReference(folder.config(), folder.weights()), examples);
            System.out.printf("family=%s architecture=%s max_abs_logprob_diff=%.3g%n", family, architecture, worst);
            assertThat(worst).as("largest per-token log-prob difference from the reference").isLessThan(TOLERANCE);

            int maxNew = 12;
            List<int[]> cached = new Generator(model).generate(manager, prompts, Sampling.greedy(maxNew), true);
            List<int[]> recomputed = new Generator(model).generate(manager, prompts, Sampling.greedy(maxNew), false);
            TransformersReference reference = new TransformersReference(folder.config(), folder.weights());
            for (int i = 0; i < prompts.size(); i++) {
                assertSameUpToATie(reference, prompts.get(i), cached.get(i), recomputed.get(i));
                assertGreedyAsReference(reference, prompts.get(i), cached.get(i), model.config().stopTokens(), maxNew);
            }
            assertThat(prompts.get(0).length + cached.get(0).length).as("generation ran past the window")
                    .isGreaterThan(folder.config().path("sliding_window").asInt(0));
        }

        // Full fine-tuning: one SFT step lowers the loss; the candidate exports as the family's folder.
        try (LoadedCheckpoint ckpt = store.load(base.metadata().id(), manager)) {
            LlamaModel model = ckpt.model();
            double before = nll(model, examples);
            try (TrainStep step = new TrainStep(model, new Sft(), new AdamW(0.9, 0.999, 1e-8, 0),
                    LearningRateSchedule.constant(3e-3), 1.0)) {
                StepResult r = step.step(List.of(PreferenceBatch.sft(examples)));
                assertThat(r.skipped()).isFalse();
            }
            assertThat(nll(model, examples)).as("a full step lowers the loss").isLessThan(before);
            CheckpointMetadata saved = store.save(model, ckpt.tokenizerJson(),
                    CheckpointMetadata.of("full-1", base.metadata().id(), 0, 1, Map.of(), Map.of()));
            Path out = store.exportHuggingFace(saved.id(), dir.resolve("export-full"));
            assertExportedAsTheFamily(family, folder, out, model, examples);
        }

        // LoRA over the frozen base, on the family's own module names; merged export in the family's layout.
        try (LoadedCheckpoint ckpt = store.load(base.metadata().id(), manager)) {
            LlamaModel model = ckpt.model();
            LoraAdapter adapter = LoraAdapter.init(model.config(), LoraConfig.of(4, 8), model.manager(), 3);
            model.attach(adapter);
            List<String> expected = family.equals("phi3") ? List.of("qkv_proj", "o_proj", "gate_up_proj", "down_proj")
                    : List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");
            assertThat(adapter.config().targets()).as("the family's own module names").containsExactlyElementsOf(expected);
            double before = nll(model, examples);
            try (TrainStep step = new TrainStep(model, new Sft(), new AdamW(0.9, 0.999, 1e-8, 0),
                    LearningRateSchedule.constant(1e-2), 1.0)) {
                step.step(List.of(PreferenceBatch.sft(examples)));
            }
            assertThat(nll(model, examples)).as("a LoRA step lowers the loss").isLessThan(before);
            CheckpointMetadata saved = store.save(model, ckpt.tokenizerJson(),
                    CheckpointMetadata.of("lora-1", base.metadata().id(), 0, 1, Map.of(), Map.of()).adapterOver(base.metadata()));
            JsonNode peft = JSON.readTree(store.directoryOf(saved.id()).resolve(LoraAdapter.CONFIG).toFile());
            List<String> targets = new ArrayList<>();
            peft.get("target_modules").forEach(t -> targets.add(t.asText()));
            assertThat(targets).containsExactlyElementsOf(expected);
            Path out = store.exportMerged(saved.id(), dir.resolve("export-lora"));
            assertExportedAsTheFamily(family, folder, out, model, examples);
        }
    }

    /** The exported folder names the family's class, holds exactly its tensors, and computes as the model does. */
    private void assertExportedAsTheFamily(String family, FamilyFolders.Written folder, Path out, LlamaModel model,
                                           List<TokenBatch.Example> examples) throws IOException {
        JsonNode config = JSON.readTree(out.resolve("config.json").toFile());
        assertThat(config.get("architectures").get(0).asText()).isEqualTo(folder.config().get("architectures").get(0).asText());
        assertThat(config.get("model_type").asText()).isEqualTo(folder.config().get("model_type").asText());
        Map<String, float[]> weights = HfFolders.readSafetensors(out.resolve("model.safetensors"));
        assertThat(weights.keySet()).as("the family's tensor names").containsExactlyInAnyOrderElementsOf(
                FamilyFolders.shapes(family, folder.config()).keySet());
        double worst = worstLogProbDifference(model, new TransformersReference(config, weights), examples);
        assertThat(worst).as("the exported folder computes what the model computes").isLessThan(TOLERANCE);
    }

    private double worstLogProbDifference(LlamaModel model, TransformersReference reference, List<TokenBatch.Example> examples) {
        TokenBatch batch = TokenBatch.of(examples, model.config().padTokenId());
        float[] mine;
        try (NoGrad ignored = NoGrad.enter(); NDManager scope = manager.newSubManager()) {
            NDArray lp = LogProbs.tokenLogProbs(model, scope, batch);
            mine = lp.toFloatArray();
        }
        double worst = 0;
        for (int row = 0; row < examples.size(); row++) {
            TokenBatch.Example e = examples.get(row);
            int[] ids = new int[e.length()];
            System.arraycopy(e.prompt(), 0, ids, 0, e.prompt().length);
            System.arraycopy(e.response(), 0, ids, e.prompt().length, e.response().length);
            double[] expected = reference.tokenLogProbs(ids);
            for (int t = 0; t < expected.length; t++) {
                worst = Math.max(worst, Math.abs(expected[t] - mine[row * batch.steps() + t]));
            }
        }
        return worst;
    }

    /**
     * The cached answer equals the recomputed one; where they part, the two tokens tie in the reference within float
     * rounding (random weights can make two logits equal to 1e-6, and the two paths round differently).
     */
    private static void assertSameUpToATie(TransformersReference reference, int[] prompt, int[] cached, int[] recomputed) {
        int i = 0;
        while (i < cached.length && i < recomputed.length && cached[i] == recomputed[i]) {
            i++;
        }
        if (i == cached.length && i == recomputed.length) {
            return;
        }
        assertThat(i).as("one answer stopped where the other went on").isLessThan(Math.min(cached.length, recomputed.length));
        int[] ids = Arrays.copyOf(prompt, prompt.length + i);
        System.arraycopy(cached, 0, ids, prompt.length, i);
        double[] row = reference.logits(ids)[ids.length - 1];
        assertThat(Math.abs(row[cached[i]] - row[recomputed[i]])).as("KV cache = full recomputation up to a tie, token %d", i)
                .isLessThan(1e-4);
    }

    /** Every generated token is the reference's argmax given what came before (a near tie aside). */
    private static void assertGreedyAsReference(TransformersReference reference, int[] prompt, int[] answer,
                                                Set<Integer> stops, int maxNew) {
        int[] ids = Arrays.copyOf(prompt, prompt.length + answer.length);
        System.arraycopy(answer, 0, ids, prompt.length, answer.length);
        double[][] logits = reference.logits(ids);
        for (int i = 0; i <= answer.length; i++) {
            double[] row = logits[prompt.length - 1 + i];
            int best = 0;
            for (int v = 1; v < row.length; v++) {
                if (row[v] > row[best]) {
                    best = v;
                }
            }
            if (i == answer.length) {
                if (answer.length < maxNew) {
                    assertThat(stops).as("the answer stopped on the reference's choice of a stop token").contains(best);
                }
                break;
            }
            int chosen = answer[i];
            assertThat(row[best] - row[chosen]).as("token %d of the answer is the reference's greedy choice", i)
                    .isLessThan(1e-4);
        }
    }

    private double nll(LlamaModel model, List<TokenBatch.Example> examples) {
        double[] sums = LogProbs.sums(model, manager, TokenBatch.of(examples, model.config().padTokenId()));
        return -Arrays.stream(sums).sum();
    }
}
