package io.spinstream.model.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.NoGrad;
import io.spinstream.model.TokenBatch;
import io.spinstream.model.lora.LoraAdapter;
import io.spinstream.model.lora.LoraConfig;
import io.spinstream.model.objective.Spin;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import java.util.Arrays;

/**
 * Activation checkpointing and attention in blocks of queries change what a pass holds, never what it computes:
 * gradients (full fine-tuning and LoRA, a padded batch, a sliding window) and logits equal the plain pass's.
 */
class ActivationCheckpointingTest {
    /** A tiny Mistral with a sliding window of 3 and GQA: the window, the padding and repeat_kv are all on the path. */
    static final String MISTRAL = """
            {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 24, "hidden_size": 16,
             "intermediate_size": 32, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
             "max_position_embeddings": 64, "rope_theta": 10000.0, "rms_norm_eps": 1e-5, "sliding_window": 3,
             "tie_word_embeddings": true, "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2}""";
    NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    private static TokenBatch.Example ex(int[] prompt, int... response) {
        return new TokenBatch.Example(prompt, response);
    }

    /** SPIN pairs of unequal lengths: padding in the stacked batch, sequences longer than the window. */
    private static List<PreferenceBatch> pairs() {
        return List.of(new PreferenceBatch(List.of(ex(new int[]{3, 4, 5, 6}, 7, 8, 9, 10, 2), ex(new int[]{11}, 12, 2)),
                List.of(ex(new int[]{3, 4, 5, 6}, 13, 2), ex(new int[]{11}, 14, 15, 16, 17, 18, 2)),
                new double[]{-9, -4}, new double[]{-5, -12}));
    }

    private Map<String, double[]> gradients(LlamaModel model, boolean checkpointing, int block) {
        return gradients(model, checkpointing, block, LlamaModel.DEFAULT_ROW_BLOCK_TOKENS);
    }

    private Map<String, double[]> gradients(LlamaModel model, boolean checkpointing, int block, int rowBlockTokens) {
        model.activationCheckpointing(checkpointing);
        model.attentionBlock(block);
        model.rowBlockTokens(rowBlockTokens);
        Map<String, double[]> out = new HashMap<>();
        try (TrainStep step = new TrainStep(model, new Spin(1.0, Spin.Loss.LOGISTIC, 0.5), new AdamW(0.9, 0.999, 1e-8, 0),
                LearningRateSchedule.constant(1e-3), 0)) {
            step.gradients(pairs(), out);
        }
        return out;
    }

    private static void assertSameGradients(Map<String, double[]> actual, Map<String, double[]> expected, String what) {
        assertThat(actual.keySet()).as(what).isEqualTo(expected.keySet()).isNotEmpty();
        double largest = expected.values().stream().flatMapToDouble(Arrays::stream).map(Math::abs).max().orElseThrow();
        assertThat(largest).isPositive();
        for (String name : expected.keySet()) {
            double[] a = actual.get(name);
            double[] e = expected.get(name);
            for (int i = 0; i < e.length; i++) {
                assertThat(a[i]).as("%s: %s[%d]", what, name, i).isCloseTo(e[i], within(1e-9 * largest + 1e-12));
            }
        }
    }

    private LlamaModel model() {
        LlamaModel m = LlamaModel.random(LlamaConfig.fromJson(MISTRAL), manager, 4, DataType.FLOAT64);
        m.parameters().forEach((name, p) -> {
            if (!name.endsWith("norm.weight")) {
                p.muli(20); // weights large enough that attention is not uniform
            }
        });
        return m;
    }

    @Test
    void fullFineTuningGradientsEqualThePlainPass() {
        try (LlamaModel model = model()) {
            Map<String, double[]> plain = gradients(model, false, 0);
            assertSameGradients(gradients(model, true, 0), plain, "checkpointed");
            assertSameGradients(gradients(model, false, 2), plain, "attention in blocks of 2 queries");
            assertSameGradients(gradients(model, true, 3), plain, "checkpointed, blocks of 3");
            // One row of the batch at a time through each layer's forward and recomputation; the head one position
            // of the batch at a time.
            assertSameGradients(gradients(model, true, 0, 1), plain, "checkpointed, one row at a time");
            model.headBlockLogits(1);
            assertSameGradients(gradients(model, true, 0, 1), plain, "checkpointed, head blocks of one position");
            assertSameGradients(gradients(model, false, 0, 1), plain, "plain pass, head blocks of one position");
            model.headBlockLogits(LlamaModel.DEFAULT_HEAD_BLOCK_LOGITS);
        }
    }

    @Test
    void loraGradientsEqualThePlainPass() {
        try (LlamaModel model = model();
             LoraAdapter adapter = LoraAdapter.init(model.config(), LoraConfig.of(2, 4), model.manager(), 5, DataType.FLOAT64)) {
            Random random = new Random(3);
            adapter.parameters().forEach((name, t) -> {
                if (name.endsWith("lora_B.weight")) { // B non-zero, so that A's gradients are not zero
                    double[] v = new double[(int) t.size()];
                    for (int i = 0; i < v.length; i++) {
                        v[i] = random.nextGaussian() * 0.1;
                    }
                    t.set(t.getManager().create(v, t.getShape()).toByteBuffer());
                }
            });
            model.attach(adapter);
            Map<String, double[]> plain = gradients(model, false, 0);
            assertThat(plain.keySet()).allMatch(n -> n.contains("lora_"));
            assertSameGradients(gradients(model, true, 2), plain, "checkpointed LoRA, blocks of 2");
            assertSameGradients(gradients(model, true, 2, 1), plain, "checkpointed LoRA, one row at a time");
        }
    }

    @Test
    void logitsInBlocksOfQueriesEqualThePlainPass() {
        try (LlamaModel model = model(); NoGrad ignored = NoGrad.enter(); NDManager scope = manager.newSubManager()) {
            long[][] ids = {{3, 4, 5, 6, 7, 8, 9, 10}, {11, 12, 13, 0, 0, 0, 0, 0}};
            float[] keyMask = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0};
            NDArray input = scope.create(ids);
            NDArray positions = LlamaModel.defaultPositions(scope, 2, 8);
            NDArray mask = scope.create(keyMask, new ai.djl.ndarray.types.Shape(2, 8));
            model.attentionBlock(0);
            double[] plain = model.forward(input, positions, mask, null).toDoubleArray();
            model.attentionBlock(3);
            double[] blocked = model.forward(input, positions, mask, null).toDoubleArray();
            model.attentionBlock(0);
            model.rowBlockTokens(1); // each padded row through every layer alone: its own rows of the key mask
            double[] byRow = model.forward(input, positions, mask, null).toDoubleArray();
            assertThat(blocked).hasSameSizeAs(plain);
            assertThat(byRow).hasSameSizeAs(plain);
            for (int i = 0; i < plain.length; i++) {
                assertThat(blocked[i]).isCloseTo(plain[i], within(1e-10));
                assertThat(byRow[i]).isCloseTo(plain[i], within(1e-10));
            }
        }
    }
}
