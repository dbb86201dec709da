package io.spinstream.evaluator.suite;

import io.spinstream.model.tokenizer.ByteLevelBpe;
import io.spinstream.model.tokenizer.ChatMessage;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.model.tokenizer.SpinTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The preference suite scores the opponent's answer as the opponent's log-prob has it. */
class OpponentAnswersTest {

    @Test
    void anAnswerWithItsOwnTokensIsScoredOnThemAndOneWithoutOnItsText(@TempDir Path dir) {
        Path json = dir.resolve("tokenizer.json");
        ByteLevelBpe.write(json, ByteLevelBpe.bytesOnly());
        try (SpinTokenizer tok = SpinTokenizer.load(json, PromptTemplate.PLAIN, 2)) {
            // Answer 0: "7" then the lone byte 0xE2 (tokens: byte + 3), whose text reads "7\uFFFD"; answer 1: text only.
            OpponentAnswers answers = new OpponentAnswers(new String[]{"7\uFFFD", "12"}, new double[]{-1, -2}, new double[]{-3, -4},
                    new int[][]{{'7' + 3, 0xE2 + 3}, null});
            List<ChatMessage> turns = List.of(ChatMessage.user("5+2="));
            assertThat(answers.example(tok, turns, 0).response()).containsExactly('7' + 3, 0xE2 + 3, 2);
            assertThat(answers.example(tok, turns, 0).prompt()).isEqualTo(tok.encodePrompt(turns));
            assertThat(tok.example(turns, "7\uFFFD").response()).as("the text alone re-encodes to 3 bytes for U+FFFD").hasSize(5);
            assertThat(answers.example(tok, turns, 1).response()).containsExactly('1' + 3, '2' + 3, 2);
        }
    }
}
