package io.spinstream.lion;

import io.spinstream.lion.roles.Judgement;
import io.spinstream.lion.roles.PromptPool;
import io.spinstream.lion.roles.PromptWriter;
import io.spinstream.lion.roles.Referee;
import io.spinstream.lion.roles.RougeL;
import io.spinstream.runtime.http.JsonEndpoint;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.TaskMetadata;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class LionRolesTest {

    @Test
    void rougeLIsTheLcsFMeasureOfAHandComputedExample() {
        // candidate: the cat sat on the mat (6 tokens); reference: the cat lay on a mat today (7 tokens).
        // LCS = the, cat, on, mat = 4; P = 4/6, R = 4/7; F = 2PR/(P+R) = 2*(16/42)/(4/6+4/7) = 8/13.
        assertThat(RougeL.f("The cat sat on the mat.", "the cat lay on a mat today")).isCloseTo(8.0 / 13, within(1e-12));
        assertThat(RougeL.tokens("Write a poem, about: C3PO!")).containsExactly("write", "a", "poem", "about", "c3po");
        assertThat(RougeL.f("same words here", "same words here")).isEqualTo(1.0);
        assertThat(RougeL.f("472+815=", "123+456=")).isZero();
        assertThat(RougeL.f("", "anything")).isZero();
    }

    @Test
    void thePoolKeepsOnlyPromptsBelowTheThreshold() {
        PromptPool pool = new PromptPool(0.7);
        pool.add("a", "Explain how photosynthesis works in plants");
        pool.add("a", "Explain how photosynthesis works in plants"); // read twice: counted once
        assertThat(pool.size()).isEqualTo(1);
        // 5 of 7 tokens in common in order with a 6-token candidate: F = 2*(5/6)(5/7)/(5/6+5/7) = 0.769 >= 0.7
        assertThat(pool.isNovel("Explain how photosynthesis works in trees")).isFalse();
        assertThat(pool.isNovel("Write a haiku about the sea")).isTrue();
        assertThat(pool.isNovel("?!")).as("no words: nothing to keep").isFalse();
        assertThatThrownBy(() -> new PromptPool(0)).isInstanceOf(IllegalArgumentException.class);
    }

    private static Prompt sum(String id, String text, String answer, boolean lsb) {
        Map<String, String> attributes = new HashMap<>(Map.of("digits", "4"));
        if (lsb) {
            attributes.put("digit_order", "lsb");
        }
        return Prompt.newBuilder().setPromptId(id).setStream("arith").setPrompt(text).setHumanResponse(answer)
                .setTask(TaskMetadata.newBuilder().setKind("addition-4").setVerifiable(true).setSuites(List.of())
                        .setAttributes(attributes).build()).build();
    }

    /** Carries of a + b column by column from the least significant, computed apart from the writer. */
    private static List<Boolean> carries(long a, long b) {
        List<Boolean> out = new java.util.ArrayList<>();
        int carry = 0;
        while (a > 0 || b > 0) {
            int s = (int) (a % 10 + b % 10 + carry);
            carry = s >= 10 ? 1 : 0;
            out.add(carry == 1);
            a /= 10;
            b /= 10;
        }
        return out;
    }

    @Test
    void theArithmeticWriterKeepsEachOperandsDigitsAndEveryCarry() {
        PromptWriter w = new PromptWriter.Arithmetic();
        Prompt source = sum("p1", "4785+396=", "5181", false);
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (long seed = 0; seed < 40; seed++) {
            Prompt p = w.write(source, true, "new-" + seed, seed);
            String[] parts = p.getPrompt().replace("=", "").split("\\+");
            long a = Long.parseLong(parts[0]);
            long b = Long.parseLong(parts[1]);
            assertThat(parts[0]).hasSize(4);
            assertThat(parts[1]).hasSize(3);
            assertThat(carries(a, b)).isEqualTo(carries(4785, 396));
            assertThat(p.getHumanResponse()).isEqualTo(Long.toString(a + b));
            assertThat(p.getTask().getAttributes()).containsEntry("lion_source", "p1").containsEntry("digits", "4");
            assertThat(p.getPromptId()).isEqualTo("new-" + seed);
            seen.add(p.getPrompt());
        }
        assertThat(seen.size()).as("new problems, not the same one").isGreaterThan(30);
        assertThat(w.write(source, true, "x", 7)).isEqualTo(w.write(source, true, "x", 7));

        // Least significant digit first (the demo's order): 5874 is 4785, 693 is 396, the answer reversed too.
        Prompt lsb = w.write(sum("p2", "5874+693=", "1815", true), true, "y", 3);
        String[] parts = lsb.getPrompt().replace("=", "").split("\\+");
        long a = Long.parseLong(new StringBuilder(parts[0]).reverse().toString());
        long b = Long.parseLong(new StringBuilder(parts[1]).reverse().toString());
        assertThat(carries(a, b)).isEqualTo(carries(4785, 396));
        assertThat(lsb.getHumanResponse()).isEqualTo(new StringBuilder(Long.toString(a + b)).reverse().toString());

        assertThatThrownBy(() -> w.write(sum("p3", "what is 2+2?", "4", false), true, "z", 1))
                .isInstanceOf(JsonEndpoint.Refused.class).hasMessageContaining("a+b=");
    }

    @Test
    void theVerifierRefereeMakesAPromptHardWhenOnlyTheTeacherIsRight() {
        Referee r = new Referee.ByVerifier();
        Prompt p = sum("p", "12+30=", "42", false);
        Judgement right = r.judge(p, "42", "41");
        assertThat(right).isEqualTo(new Judgement(10, 1));
        assertThat(right.hard(1.0)).isTrue();
        assertThat(r.judge(p, "42", " 42 ").hard(1.0)).isFalse();
        assertThat(r.judge(p, "40", "41").hard(1.0)).isFalse();
        Prompt open = Prompt.newBuilder(p).setTask(TaskMetadata.newBuilder().build()).setHumanResponse(null).build();
        assertThatThrownBy(() -> r.judge(open, "a", "b")).isInstanceOf(JsonEndpoint.Refused.class).hasMessageContaining("no verifier");
    }

    @Test
    void aModelRefereesFirstLineGivesTheTwoScores() {
        assertThat(Referee.ByModel.scores("8 6\nAssistant 1 is more detailed.")).containsExactly(8, 6);
        assertThat(Referee.ByModel.scores("7.5, 9\n...")).containsExactly(7.5, 9);
        assertThatThrownBy(() -> Referee.ByModel.scores("Assistant 1 is better")).isInstanceOf(JsonEndpoint.Refused.class)
                .hasMessageContaining("does not begin with two scores");
        assertThatThrownBy(() -> Referee.ByModel.scores("80 60")).hasMessageContaining("scale of 1 to 10");
        assertThat(PromptWriter.ByModel.HARD.formatted("12+3=")).contains("the same domain and the same task type")
                .contains("#Given Instruction#:\n12+3=\n#Created Instruction#:").doesNotContain("%");
        assertThat(PromptWriter.ByModel.EASY).contains("but be even more rare").doesNotContain("same task type");
        assertThat(Referee.ByModel.TEMPLATE.formatted("Q?", "A1", "A2")).contains("[Question]\nQ?")
                .contains("[The Start of Assistant 2's Answer]\nA2").contains("scale of 1 to 10");
    }

    @Test
    void theEasyShareIsAStableDraw() {
        double share = GenerationStep.share("p-1/r0");
        assertThat(share).isEqualTo(GenerationStep.share("p-1/r0")).isBetween(0.0, 1.0);
        long below = java.util.stream.IntStream.range(0, 2000).filter(i -> GenerationStep.share("p-" + i + "/r1") < 0.1).count();
        assertThat(below).isBetween(150L, 250L);
    }
}
