package io.spinstream.trainer.round;

import io.spinstream.model.tokenizer.ByteLevelBpe;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.model.tokenizer.SpinTokenizer;
import io.spinstream.schemas.CandidateSample;
import io.spinstream.schemas.TrainingPair;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** A pair read as a group for RAFT/RRHF: the human answer with the best reward, then the K samples. */
class GroupIntakeTest {
    static final PartitionKey P0 = new PartitionKey("spin.pairs", 0);

    private static TrainingPair pair(List<CandidateSample> samples, Double syntheticReward) {
        return TrainingPair.newBuilder().setPromptId("p").setStream("arith").setPrompt("1+1=").setHuman("2").setSynthetic("3")
                .setOpponentLogpHuman(-2).setOpponentLogpSynthetic(-1).setOpponentId("base").setRound(0)
                .setSamples(samples).setSyntheticReward(syntheticReward).setCreatedAt(Instant.EPOCH).build();
    }

    private static CandidateSample sample(int k, String answer, Double reward) {
        return CandidateSample.newBuilder().setSample(k).setResponse(answer).setOpponentLogp(-1).setReward(reward).build();
    }

    @Test
    void samplesBecomeCandidatesAndTheHumanAnswerJoinsTheBest(@TempDir Path dir) {
        Path tokenizer = dir.resolve("tokenizer.json");
        ByteLevelBpe.write(tokenizer, ByteLevelBpe.bytesOnly());
        try (SpinTokenizer tok = SpinTokenizer.load(tokenizer, PromptTemplate.PLAIN, 2)) {
            PairIntake groups = new PairIntake("base", 0, null, tok, 64, 259, true);
            Intake.Accepted a = (Intake.Accepted) groups.accept(P0, 0,
                    pair(List.of(sample(0, "3", 0.0), sample(1, "2", 1.0), sample(2, "4", 0.0)), 0.0));
            assertThat(a.group().rewards()).containsExactly(1.0, 0.0, 1.0, 0.0);
            assertThat(a.group().candidates()).hasSize(4);
            assertThat(a.group().candidates().get(0)).isEqualTo(a.chosen());
            assertThat(a.group().candidates().get(2).response()).isEqualTo(tok.example("1+1=", "2").response());

            Intake.Accepted single = (Intake.Accepted) groups.accept(P0, 1, pair(List.of(), 0.0));
            assertThat(single.group().rewards()).as("K = 1: the synthetic answer alone").containsExactly(0.0, 0.0);

            assertThat(groups.accept(P0, 2, pair(List.of(sample(0, "3", null)), null)))
                    .isInstanceOfSatisfying(Intake.Invalid.class, i -> assertThat(i.reason()).contains("needs a reward for every sample"));
            assertThat(((Intake.Accepted) new PairIntake("base", 0, null, tok, 64, 259).accept(P0, 3, pair(List.of(), null))).group())
                    .as("a pair objective reads no group").isNull();
        }
    }

    @Test
    void anUnlabelledPromptIsSkippedByAPairObjectiveAndIsItsSamplesForAGroupObjective(@TempDir Path dir) {
        Path tokenizer = dir.resolve("tokenizer.json");
        ByteLevelBpe.write(tokenizer, ByteLevelBpe.bytesOnly());
        try (SpinTokenizer tok = SpinTokenizer.load(tokenizer, PromptTemplate.PLAIN, 2)) {
            TrainingPair unlabelled = pair(List.of(sample(0, "3", 0.0), sample(1, "2", 1.0)), 0.0);
            unlabelled.setHuman(null);
            assertThat(new PairIntake("base", 0, null, tok, 64, 259).accept(P0, 0, unlabelled))
                    .as("SPIN needs a human answer: skipped, not invalid")
                    .isInstanceOfSatisfying(Intake.Unlabelled.class, u -> assertThat(u.promptId()).isEqualTo("p"));
            Intake.Accepted a = (Intake.Accepted) new PairIntake("base", 0, null, tok, 64, 259, true).accept(P0, 1, unlabelled);
            assertThat(a.chosen()).isNull();
            assertThat(a.group().rewards()).as("the samples alone, no human candidate").containsExactly(0.0, 1.0);
            assertThat(a.group().candidates()).extracting(c -> c.response().length).containsExactly(
                    tok.example("1+1=", "3").response().length, tok.example("1+1=", "2").response().length);
            assertThat(a.group().candidates().get(1).response()).isEqualTo(tok.example("1+1=", "2").response());
        }
    }

    @Test
    void anAnswerIsTrainedOnItsOwnTokensWhenItHasThem(@TempDir Path dir) {
        Path tokenizer = dir.resolve("tokenizer.json");
        ByteLevelBpe.write(tokenizer, ByteLevelBpe.bytesOnly());
        try (SpinTokenizer tok = SpinTokenizer.load(tokenizer, PromptTemplate.PLAIN, 2)) {
            // "3" then the byte 0xC3 alone (token 0xC3 + 3): not UTF-8, so the text reads "3\uFFFD", which re-encodes
            // to five bytes; the opponent's log-prob is of its two tokens, and those are what is trained.
            TrainingPair pair = pair(List.of(), 0.0);
            pair.setSynthetic("3\uFFFD");
            pair.setSyntheticTokenIds(List.of('3' + 3, 0xC3 + 3));
            Intake.Accepted a = (Intake.Accepted) new PairIntake("base", 0, null, tok, 64, 259).accept(P0, 0, pair);
            assertThat(a.rejected().response()).containsExactly('3' + 3, 0xC3 + 3, 2);
            assertThat(a.rejected().prompt()).isEqualTo(tok.encodePrompt("1+1="));
            assertThat(tok.example("1+1=", "3\uFFFD").response()).as("what the text alone would have trained").hasSize(5);

            CandidateSample own = sample(0, "3\uFFFD", 0.0);
            own.setResponseTokenIds(List.of('3' + 3, 0xC3 + 3));
            Intake.Accepted group = (Intake.Accepted) new PairIntake("base", 0, null, tok, 64, 259, true)
                    .accept(P0, 1, pair(List.of(own, sample(1, "2", 1.0)), 0.0));
            assertThat(group.group().candidates().get(1).response()).containsExactly('3' + 3, 0xC3 + 3, 2);
            assertThat(group.group().candidates().get(2).response()).isEqualTo(tok.example("1+1=", "2").response());

            pair.setSyntheticTokenIds(List.of('3' + 3, 259));
            assertThat(new PairIntake("base", 0, null, tok, 64, 259).accept(P0, 2, pair))
                    .isInstanceOfSatisfying(Intake.Invalid.class, i -> assertThat(i.reason()).contains("token id 259 is outside the vocabulary of 259"));
        }
    }
}
