package io.spinstream.model;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.IntStream;

class GenerationAndLogProbsTest {
    private static NDManager manager;
    private static LlamaModel model;

    @BeforeAll
    static void model() {
        manager = NDManager.newBaseManager();
        // GQA (4 query heads on 2 key/value heads) so that repeat_kv is exercised.
        LlamaConfig config = LlamaConfig.tiny(40, 32, 2, 4, 2, 64);
        model = LlamaModel.random(config, manager, 7, DataType.FLOAT32);
        // Larger weights than the init so that greedy decoding is not flat.
        model.parameters().forEach((name, p) -> {
            if (name.endsWith("proj.weight") || name.endsWith("embed_tokens.weight") || name.equals("lm_head.weight")) {
                p.muli(25);
            }
        });
    }

    @AfterAll
    static void close() {
        model.close();
        manager.close();
    }

    @Test
    void kvCacheGenerationEqualsFullRecomputation() {
        Generator generator = new Generator(model);
        List<int[]> prompts = List.of(new int[]{5, 6, 7, 8, 9}, new int[]{10, 11}, new int[]{12, 13, 14});
        for (Sampling sampling : List.of(Sampling.greedy(12), new Sampling(1.0f, 0.9f, 12, 42))) {
            List<int[]> cached = generator.generate(manager, prompts, sampling, true);
            List<int[]> full = generator.generate(manager, prompts, sampling, false);
            assertThat(cached).hasSize(3);
            for (int i = 0; i < prompts.size(); i++) {
                assertThat(cached.get(i)).as("row %d, %s", i, sampling).containsExactly(full.get(i));
            }
            assertThat(cached.stream().mapToInt(a -> a.length).sum()).isPositive();
        }
    }

    @Test
    void aRowGeneratesTheSameAloneAsInABatchAndSeededSamplingRepeats() {
        Generator generator = new Generator(model);
        int[] shortPrompt = {10, 11};
        List<int[]> batched = generator.generate(manager, List.of(new int[]{5, 6, 7, 8, 9}, shortPrompt), Sampling.greedy(10));
        List<int[]> alone = generator.generate(manager, List.of(shortPrompt), Sampling.greedy(10));
        assertThat(batched.get(1)).containsExactly(alone.get(0));

        Sampling sampled = new Sampling(1.0f, 1.0f, 10, 1234);
        assertThat(generator.generate(manager, List.of(shortPrompt), sampled).get(0))
                .containsExactly(generator.generate(manager, List.of(shortPrompt), sampled).get(0));
    }

    @Test
    void generationStopsAtEos() {
        int[] prompt = {5, 6};
        int[] free = new Generator(model).generate(manager, List.of(prompt), Sampling.greedy(10)).get(0);
        // Declare a token the model produces as EOS: generation must stop just before its first use.
        int stopAt = -1;
        for (int i = 1; i < free.length; i++) {
            final int candidate = free[i];
            if (Arrays.stream(free, 0, i).noneMatch(t -> t == candidate)) {
                stopAt = i;
                break;
            }
        }
        assertThat(stopAt).as("greedy output %s has a token not seen before it", Arrays.toString(free)).isPositive();
        LlamaConfig withEos = model.config().withEos(free[stopAt]);
        try (LlamaModel same = LlamaModel.of(withEos, manager, model.parameters())) {
            int[] stopped = new Generator(same).generate(manager, List.of(prompt), Sampling.greedy(10)).get(0);
            assertThat(stopped).containsExactly(Arrays.copyOf(free, stopAt));
        }
        // The same token as a second stop id (an end of turn beside the end of text) stops the row just as well, and the
        // answer's log-prob closes with the model's EOS, the token the answer is trained and scored with.
        int unused = IntStream.range(3, model.config().vocabSize())
                .filter(t -> Arrays.stream(free).noneMatch(f -> f == t)).findFirst().orElseThrow();
        LlamaConfig twoStops = model.config().withStops(unused, List.of(free[stopAt]));
        try (LlamaModel same = LlamaModel.of(twoStops, manager, model.parameters())) {
            assertThat(same.config().stopTokens()).containsExactly(unused, free[stopAt]);
            Generator.Answer a = new Generator(same).answer(manager, List.of(prompt), Sampling.greedy(10), new long[]{1}).get(0);
            assertThat(a.tokens()).containsExactly(Arrays.copyOf(free, stopAt));
            int[] withEosToken = Arrays.copyOf(a.tokens(), a.tokens().length + 1);
            withEosToken[a.tokens().length] = unused;
            double scored = LogProbs.sums(same, manager, TokenBatch.of(List.of(new TokenBatch.Example(prompt, withEosToken)),
                    0))[0];
            assertThat(a.logProbWithEos()).isCloseTo(scored, within(1e-3));
        }
    }

    @Test
    void anAnswersLogProbIsTheScoreOfItsTokensAndTheEosThatClosesThem() {
        List<int[]> prompts = List.of(new int[]{5, 6, 7, 8, 9}, new int[]{10, 11}, new int[]{12, 13, 14}, new int[]{15},
                new int[]{16, 17, 18, 19}, new int[]{20, 21}, new int[]{22, 23, 24}, new int[]{25, 26});
        Sampling sampling = new Sampling(1.0f, 1.0f, 8, 99);
        long[] seeds = {1, 2, 3, 4, 5, 6, 7, 8};
        // Declare as EOS the token sampled most often: rows that sample it stop there, the others at the length.
        List<int[]> free;
        try (LlamaModel noEos = LlamaModel.of(model.config().withEos(-1), manager, model.parameters())) {
            free = new Generator(noEos).generate(manager, prompts, sampling, seeds, true);
        }
        int[] counts = new int[model.config().vocabSize()];
        free.forEach(row -> Arrays.stream(row).forEach(t -> counts[t]++));
        int eos = 0;
        for (int t = 1; t < counts.length; t++) {
            eos = counts[t] > counts[eos] ? t : eos;
        }
        try (LlamaModel same = LlamaModel.of(model.config().withEos(eos), manager, model.parameters())) {
            List<Generator.Answer> answers = new Generator(same).answer(manager, prompts, sampling, seeds);
            assertThat(answers).extracting(a -> a.tokens().length).as("some rows stop at EOS, some at the length")
                    .contains(8).anyMatch(n -> n < 8);
            for (int i = 0; i < prompts.size(); i++) {
                int[] tokens = answers.get(i).tokens();
                assertThat(tokens).as("row %d equals plain generation up to its EOS", i)
                        .containsExactly(Arrays.copyOf(free.get(i), tokens.length));
                int[] withEos = Arrays.copyOf(tokens, tokens.length + 1);
                withEos[tokens.length] = eos;
                double scored = LogProbs.sums(same, manager, TokenBatch.of(List.of(new TokenBatch.Example(prompts.get(i), withEos)),
                        same.config().padTokenId()))[0];
                assertThat(answers.get(i).logProbWithEos()).as("row %d", i).isCloseTo(scored, within(1e-3));
            }
        }
    }

    @Test
    void examplesScoredShortestFirstInChunksGiveTheSameSumsInTheirOrder() {
        Random random = new Random(3);
        List<TokenBatch.Example> examples = new ArrayList<>();
        for (int i = 0; i < 90; i++) { // more tokens than one scoring chunk takes
            int[] prompt = random.ints(1 + random.nextInt(6), 3, 40).toArray();
            int[] response = random.ints(1 + random.nextInt(40), 3, 40).toArray();
            examples.add(new TokenBatch.Example(prompt, response));
        }
        double[] sorted = LogProbs.sums(model, manager, examples, 0);
        double[] padded = LogProbs.sums(model, manager, TokenBatch.of(examples, 0));
        assertThat(sorted).hasSize(90);
        for (int i = 0; i < examples.size(); i++) {
            assertThat(sorted[i]).as("example %d", i).isCloseTo(padded[i], within(1e-3));
        }
    }

    @Test
    void aRowRefilledIntoARunningBatchAnswersAsItWouldAlone() {
        List<int[]> prompts = List.of(new int[]{5, 6, 7, 8, 9}, new int[]{10, 11}, new int[]{12, 13, 14}, new int[]{15},
                new int[]{16, 17, 18, 19, 20, 21, 22}, new int[]{23, 24}, new int[]{25, 26, 27}, new int[]{28, 29});
        long[] seeds = {11, 12, 13, 14, 15, 16, 17, 18};
        int eos = mostSampledToken(prompts, seeds);
        try (LlamaModel same = LlamaModel.of(model.config().withEos(eos), manager, model.parameters())) {
            Generator generator = new Generator(same);
            for (Sampling sampling : List.of(new Sampling(1.0f, 1.0f, 8, 5), new Sampling(0.8f, 0.9f, 8, 6), Sampling.greedy(8))) {
                List<Generator.Answer> refilled = generator.answer(manager, prompts, sampling, seeds, 3);
                List<Generator.Answer> together = generator.answer(manager, prompts, sampling, seeds);
                assertThat(refilled).hasSize(prompts.size());
                for (int i = 0; i < prompts.size(); i++) {
                    Generator.Answer alone = generator.answer(manager, List.of(prompts.get(i)), sampling, new long[]{seeds[i]}).get(0);
                    assertThat(refilled.get(i).tokens()).as("prompt %d, %s", i, sampling).containsExactly(alone.tokens());
                    assertThat(together.get(i).tokens()).as("prompt %d, %s, one batch", i, sampling).containsExactly(alone.tokens());
                    assertThat(refilled.get(i).logProbWithEos()).isCloseTo(alone.logProbWithEos(), within(1e-3));
                }
                if (!sampling.isGreedy()) {
                    assertThat(refilled).extracting(a -> a.tokens().length).as("answers of different lengths, so rows free up at different steps")
                            .contains(8).anyMatch(n -> n < 8);
                }
            }
        }
        // Without an EOS every row stops at its length: rows free up together and their prompts (of 1, 7 and 2
        // tokens) join the batch in one prefill, left-padded among themselves.
        try (LlamaModel noEos = LlamaModel.of(model.config().withEos(-1), manager, model.parameters())) {
            Generator generator = new Generator(noEos);
            Sampling sampling = new Sampling(1.0f, 1.0f, 8, 5);
            List<Generator.Answer> refilled = generator.answer(manager, prompts, sampling, seeds, 3);
            for (int i = 0; i < prompts.size(); i++) {
                int[] alone = generator.generate(manager, List.of(prompts.get(i)), sampling, new long[]{seeds[i]}, true).get(0);
                assertThat(refilled.get(i).tokens()).as("prompt %d without EOS", i).hasSize(8).containsExactly(alone);
            }
        }
    }

    /** The token that plain sampling (no EOS) draws most often from these prompts: declared EOS, it ends some answers early. */
    private static int mostSampledToken(List<int[]> prompts, long[] seeds) {
        int[] counts = new int[model.config().vocabSize()];
        try (LlamaModel noEos = LlamaModel.of(model.config().withEos(-1), manager, model.parameters())) {
            new Generator(noEos).generate(manager, prompts, new Sampling(1.0f, 1.0f, 8, 5), seeds, true)
                    .forEach(row -> Arrays.stream(row).forEach(t -> counts[t]++));
        }
        int best = 0;
        for (int t = 1; t < counts.length; t++) {
            best = counts[t] > counts[best] ? t : best;
        }
        return best;
    }

    @Test
    void lastLogitsAreTheFullPassesLastPosition() {
        try (NDManager scope = manager.newSubManager()) {
            var ids = scope.create(new long[]{5, 6, 7, 8, 10, 11, 12, 13}, new ai.djl.ndarray.types.Shape(2, 4));
            var positions = LlamaModel.defaultPositions(scope, 2, 4);
            float[] full = model.forward(ids, positions, null, null).get(":, -1, :").toFloatArray();
            float[] last = model.lastLogits(ids, positions, null, null).toFloatArray();
            assertThat(last).hasSize(2 * model.config().vocabSize()).containsExactly(full, within(1e-5f));
        }
    }

    @Test
    void attentionFromAWindowGivesWhatTheMaskedColumnsBeforeItGave() {
        // Two rows whose first three columns are dead (masked for both): a decoding step that reads the cache
        // from column 3 must give the logits of one that reads every column with those masked.
        long[] ids = {9, 9, 9, 5, 6, 7, 9, 9, 9, 0, 12, 13};
        float[] mask = {0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1};
        long[] positions = {0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 1};
        try (NDManager scope = manager.newSubManager();
             KvCache whole = new KvCache(scope, model.config().numLayers(), 7);
             KvCache windowed = new KvCache(scope, model.config().numLayers(), 7)) {
            var shape = new ai.djl.ndarray.types.Shape(2, 6);
            for (KvCache cache : List.of(whole, windowed)) {
                model.lastLogits(scope.create(ids, shape), scope.create(positions, shape), scope.create(mask, shape), cache);
            }
            var next = scope.create(new long[]{8, 14}, new ai.djl.ndarray.types.Shape(2, 1));
            var nextPositions = scope.create(new long[]{3, 2}, new ai.djl.ndarray.types.Shape(2, 1));
            float[] all = model.lastLogits(next, nextPositions,
                    scope.create(new float[]{0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1}, new ai.djl.ndarray.types.Shape(2, 7)), whole)
                    .toFloatArray();
            windowed.attendFrom(3);
            assertThat(windowed.attended()).isEqualTo(3);
            float[] fromWindow = model.lastLogits(next, nextPositions,
                    scope.create(new float[]{1, 1, 1, 1, 0, 1, 1, 1}, new ai.djl.ndarray.types.Shape(2, 4)), windowed).toFloatArray();
            assertThat(fromWindow).hasSize(2 * model.config().vocabSize()).containsExactly(all, within(1e-4f));
            assertThat(windowed.length()).isEqualTo(7);
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> windowed.attendFrom(8))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside the 7 cached");
        }
    }

    @Test
    void samplingOrdersTokensAsAStableSortByProbability() {
        Random random = new Random(5);
        for (int n : new int[]{1, 2, 7, 64, 259, 1000}) {
            double[] p = new double[n];
            for (int i = 0; i < n; i++) {
                p[i] = random.nextInt(5) == 0 ? 0.25 : random.nextDouble(); // ties on purpose
            }
            Integer[] boxed = IntStream.range(0, n).boxed().toArray(Integer[]::new);
            Arrays.sort(boxed, Comparator.comparingDouble((Integer i) -> p[i]).reversed());
            assertThat(Generator.byDescending(p)).as("n = %d", n).containsExactly(Arrays.stream(boxed).mapToInt(i -> i).toArray());
        }
    }

    @Test
    void logProbsMaskThePromptAndThePadding() {
        TokenBatch.Example a = new TokenBatch.Example(new int[]{5, 6, 7}, new int[]{8, 9, 2});
        TokenBatch.Example b = new TokenBatch.Example(new int[]{10}, new int[]{11, 2});
        double[] together = LogProbs.sums(model, manager, TokenBatch.of(List.of(a, b), 0));
        double[] aAlone = LogProbs.sums(model, manager, TokenBatch.of(List.of(a), 0));
        double[] bAlone = LogProbs.sums(model, manager, TokenBatch.of(List.of(b), 0));
        assertThat(together[0]).isCloseTo(aAlone[0], within(1e-4));
        assertThat(together[1]).isCloseTo(bAlone[0], within(1e-4));

        // By hand: the sum over response positions of log softmax(logits)[next token].
        try (NDManager scope = manager.newSubManager()) {
            TokenBatch single = TokenBatch.of(List.of(a), 0);
            var logits = model.forward(single.inputs(scope), LlamaModel.defaultPositions(scope, 1, single.steps()), null, null);
            float[] flat = logits.toFloatArray();
            int vocab = model.config().vocabSize();
            double expected = 0;
            int[] seq = {5, 6, 7, 8, 9, 2};
            for (int t = 2; t < seq.length - 1; t++) { // positions whose next token is a response token
                double max = Double.NEGATIVE_INFINITY;
                for (int v = 0; v < vocab; v++) {
                    max = Math.max(max, flat[t * vocab + v]);
                }
                double z = 0;
                for (int v = 0; v < vocab; v++) {
                    z += Math.exp(flat[t * vocab + v] - max);
                }
                expected += flat[t * vocab + seq[t + 1]] - max - Math.log(z);
            }
            assertThat(aAlone[0]).isCloseTo(expected, within(1e-3));
            SequenceLogProbs lp = LogProbs.of(model, scope, single);
            assertThat(lp.mean().getFloat(0)).isCloseTo((float) (expected / 3), within(1e-3f));
        }
    }
}
