package io.spinstream.runtime.opponent;

import ai.djl.ndarray.NDManager;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.Sampling;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.tokenizer.ByteLevelBpe;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.CandidateSample;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** K answers per prompt: sample 0 is the K = 1 answer, each sample its own seed, rewards from the verifier. */
class PromptAnswererSamplesTest {

    private static List<SyntheticResponse> verified(List<Prompt> prompts, List<SyntheticResponse> answers) {
        return java.util.stream.IntStream.range(0, answers.size())
                .mapToObj(i -> io.spinstream.runtime.reward.RewardStep.VERIFIER.reward(prompts.get(i), answers.get(i))).toList();
    }

    /** A random tiny model with the byte-level tokenizer, saved as "base". */
    private static CheckpointMetadata tinyBase(CheckpointStore store, Path dir, long seed) {
        Path tokenizer = dir.resolve("tokenizer.json");
        ByteLevelBpe.write(tokenizer, ByteLevelBpe.bytesOnly());
        try (NDManager m = NDManager.newBaseManager(); LlamaModel model = SpinFixtures.tinyModel(m, seed)) {
            return store.save(model, tokenizer, CheckpointMetadata.of("base", null, 0, 0, null, null));
        }
    }

    private static Opponent opponent(CheckpointStore store, CheckpointMetadata base, NDManager m) {
        return Opponent.load(Opponent.initial("r", base, store.directoryOf("base")), m, PromptTemplate.PLAIN, CheckpointLocation.ANYWHERE);
    }

    @Test
    void kSamplesKeepTheFirstAnswerAndAreRewardedByTheVerifier(@TempDir Path dir) {
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        CheckpointMetadata base = tinyBase(store, dir, 1);
        List<Prompt> prompts = List.of(SpinFixtures.prompt("arith", "a", "1+1=", "2"), SpinFixtures.prompt("arith", "b", "2+3=", "5"));
        Sampling sampling = new Sampling(1.0f, 1.0f, 6, 3);
        try (NDManager m = NDManager.newBaseManager(); Opponent o = opponent(store, base, m)) {
            List<SyntheticResponse> one = verified(prompts, new PromptAnswerer(o, sampling, "g", Clock.systemUTC()).answer(m, prompts));
            List<SyntheticResponse> three = verified(prompts, new PromptAnswerer(o, sampling, "g", Clock.systemUTC(), 3).answer(m, prompts));
            assertThat(new PromptAnswerer(o, sampling, "g", Clock.systemUTC(), 3).answer(m, prompts))
                    .as("the answerer leaves rewards to the reward step").allMatch(a -> a.getReward() == null
                            && a.getSamples().stream().allMatch(s -> s.getReward() == null));
            for (int i = 0; i < prompts.size(); i++) {
                SyntheticResponse a = one.get(i);
                SyntheticResponse k = three.get(i);
                assertThat(a.getSamples()).as("K = 1 writes no samples").isEmpty();
                assertThat(k.getResponse()).as("sample 0 does not change with K").isEqualTo(a.getResponse());
                assertThat(k.getOpponentLogpSynthetic()).isEqualTo(a.getOpponentLogpSynthetic(), org.assertj.core.api.Assertions.within(1e-4));
                assertThat(k.getSamples()).extracting(CandidateSample::getSample).containsExactly(0, 1, 2);
                assertThat(k.getSamples().get(0).getResponse()).isEqualTo(k.getResponse());
                String human = prompts.get(i).getHumanResponse();
                assertThat(k.getSamples()).allMatch(s -> s.getReward() == (s.getResponse().trim().equals(human) ? 1.0 : 0.0));
                assertThat(a.getReward()).isEqualTo(a.getResponse().trim().equals(human) ? 1.0 : 0.0);
                assertThat(k.getSamples()).allMatch(s -> Double.isFinite(s.getOpponentLogp()));
            }
            long distinct = three.stream().flatMap(s -> s.getSamples().stream()).map(CandidateSample::getResponse).distinct().count();
            assertThat(distinct).as("each sample its own seed").isGreaterThan(2);
            assertThat(verified(prompts, new PromptAnswerer(o, sampling, "g", Clock.systemUTC(), 3).answer(m, prompts))).as("reproducible")
                    .extracting(SyntheticResponse::getSamples).isEqualTo(three.stream().map(SyntheticResponse::getSamples).toList());

            // An unlabelled prompt (no human answer; the verifier's reference in its task attributes) between two
            // labelled ones: the same samples and rewards, no human log-prob, and its neighbours unchanged.
            Prompt unlabelled = SpinFixtures.prompt("arith", "a", "1+1=", "2");
            unlabelled.setHumanResponse(null);
            unlabelled.getTask().setAttributes(java.util.Map.of("answer", "2"));
            List<Prompt> mixedPrompts = List.of(prompts.get(1), unlabelled, prompts.get(1));
            List<SyntheticResponse> mixed = verified(mixedPrompts, new PromptAnswerer(o, sampling, "g", Clock.systemUTC(), 3).answer(m, mixedPrompts));
            assertThat(mixed.get(1).getHumanTokens()).isZero();
            assertThat(mixed.get(1).getOpponentLogpHuman()).isZero();
            assertThat(mixed.get(1).getSamples()).extracting(CandidateSample::getResponse)
                    .isEqualTo(three.get(0).getSamples().stream().map(CandidateSample::getResponse).toList());
            assertThat(mixed.get(1).getSamples()).extracting(CandidateSample::getReward)
                    .isEqualTo(three.get(0).getSamples().stream().map(CandidateSample::getReward).toList());
            assertThat(mixed.get(1).getSamples().get(2).getOpponentLogp())
                    .isEqualTo(three.get(0).getSamples().get(2).getOpponentLogp(), org.assertj.core.api.Assertions.within(1e-4));
            assertThat(mixed.get(2).getOpponentLogpHuman())
                    .isEqualTo(three.get(1).getOpponentLogpHuman(), org.assertj.core.api.Assertions.within(1e-4));
            assertThat(mixed.get(2).getSamples().get(1).getOpponentLogp())
                    .isEqualTo(three.get(1).getSamples().get(1).getOpponentLogp(), org.assertj.core.api.Assertions.within(1e-4));
        }
    }

    /** log p of an answer as the trainer trains on it, scored afresh by a full pass. */
    private static double score(Opponent o, NDManager m, int[] prompt, int[] response) {
        return io.spinstream.model.LogProbs.sums(o.checkpoint().model(), m, io.spinstream.model.TokenBatch.of(
                List.of(new io.spinstream.model.TokenBatch.Example(prompt, response)), 0))[0];
    }

    private static int[] withEos(List<Integer> tokens, int eos) {
        int[] out = new int[tokens.size() + 1];
        for (int i = 0; i < tokens.size(); i++) {
            out[i] = tokens.get(i);
        }
        out[tokens.size()] = eos;
        return out;
    }

    @Test
    void everyPublishedLogProbIsTheScoreOfWhatTheTrainerTrainsOn(@TempDir Path dir) {
        CheckpointStore store = new CheckpointStore(dir.resolve("store"));
        CheckpointMetadata base = tinyBase(store, dir, 4);
        List<Prompt> prompts = List.of(SpinFixtures.prompt("arith", "a", "1+1=", "2"), SpinFixtures.prompt("arith", "b", "12+30=", "42"));
        // Two random bytes an answer: some decode to text that re-encodes to them, others are not UTF-8 and
        // re-encode otherwise (U+FFFD). Each travels with its own tokens, and its log-prob is theirs with the EOS.
        Sampling sampling = new Sampling(1.0f, 1.0f, 2, 11);
        try (NDManager m = NDManager.newBaseManager(); Opponent o = opponent(store, base, m)) {
            int eos = o.config().eosTokenId();
            List<SyntheticResponse> answers = new PromptAnswerer(o, sampling, "g", Clock.systemUTC(), 12).answer(m, prompts);
            int sameTokens = 0;
            int reencoded = 0;
            for (int i = 0; i < prompts.size(); i++) {
                SyntheticResponse a = answers.get(i);
                int[] prompt = o.tokenizer().encodePrompt(PromptTurns.of(prompts.get(i)));
                assertThat(a.getResponseTokenIds()).as("sample 0's tokens are the record's").isEqualTo(a.getSamples().get(0).getResponseTokenIds());
                for (CandidateSample sample : a.getSamples()) {
                    List<Integer> own = sample.getResponseTokenIds();
                    assertThat(own).as("prompt %d sample %d: its own tokens", i, sample.getSample()).isNotNull().isNotEmpty();
                    assertThat(o.tokenizer().decode(own.stream().mapToInt(Integer::intValue).toArray())).as("the text is the tokens decoded").isEqualTo(sample.getResponse());
                    assertThat(sample.getOpponentLogp()).as("prompt %d sample %d", i, sample.getSample())
                            .isCloseTo(score(o, m, prompt, withEos(own, eos)), org.assertj.core.api.Assertions.within(1e-3));
                    boolean same = java.util.Arrays.equals(o.tokenizer().encodeResponse(sample.getResponse()), withEos(own, eos));
                    sameTokens += same ? 1 : 0;
                    reencoded += same ? 0 : 1;
                }
                assertThat(a.getOpponentLogpHuman()).isCloseTo(score(o, m, prompt, o.tokenizer().encodeResponse(prompts.get(i).getHumanResponse())),
                        org.assertj.core.api.Assertions.within(1e-3));
            }
            assertThat(sameTokens).as("answers that re-encode to their tokens").isPositive();
            assertThat(reencoded).as("answers that do not: trained on their own tokens, not on U+FFFD").isPositive();

            // No room for the EOS: an answer that fills the context is published as text cut to fit, without
            // tokens of its own, and scored as the trainer will encode that text.
            Prompt full = SpinFixtures.prompt("arith", "c", "9".repeat(o.config().maxPositions() - 4) + "=", "9");
            int promptTokens = o.tokenizer().encodePrompt(PromptTurns.of(full)).length;
            SyntheticResponse cut = new PromptAnswerer(o, new Sampling(1.0f, 1.0f, 8, 5), "g", Clock.systemUTC())
                    .answer(m, List.of(full)).get(0);
            assertThat(cut.getResponseTokens()).as("generated to the context's end").isEqualTo(o.config().maxPositions() - promptTokens);
            assertThat(cut.getResponseTokenIds()).isNull();
            int[] encoded = o.tokenizer().encodeResponse(cut.getResponse());
            assertThat(promptTokens + encoded.length).isLessThanOrEqualTo(o.config().maxPositions());
            assertThat(cut.getOpponentLogpSynthetic()).isCloseTo(score(o, m, o.tokenizer().encodePrompt(PromptTurns.of(full)), encoded),
                    org.assertj.core.api.Assertions.within(1e-3));
        }
    }
}
