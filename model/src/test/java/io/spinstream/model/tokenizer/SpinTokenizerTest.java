package io.spinstream.model.tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class SpinTokenizerTest {

    @Test
    void aTrainedByteLevelTokenizerRoundTripsTextWithoutSpuriousSpaces(@TempDir Path dir) throws Exception {
        List<String> corpus = List.of("123+456=579", "the cat sat on the mat", "the hat", "sort: c a b -> a b c");
        Path file = dir.resolve("tokenizer.json");
        ByteLevelBpe.write(file, ByteLevelBpe.train(corpus, 300));
        try (SpinTokenizer t = SpinTokenizer.load(file, PromptTemplate.PLAIN, 2)) {
            for (String text : List.of("the cat sat on the mat", "  two  spaces\nand a newline", "123+456=", "é ü ✓ 数字")) {
                int[] ids = t.encode(text);
                assertThat(ids).isNotEmpty();
                assertThat(t.decode(ids)).isEqualTo(text);
            }
            // Merges shorten frequent text: fewer tokens than bytes.
            assertThat(t.encode("the cat sat on the mat").length).isLessThan("the cat sat on the mat".length());
            // EOS ends a response and decodes to nothing.
            int[] response = t.encodeResponse("579");
            assertThat(response[response.length - 1]).isEqualTo(2);
            assertThat(t.decode(response)).isEqualTo("579");
        }
        assertThat(Files.readString(file)).contains("\"type\" : \"ByteLevel\"").contains("<eos>");
    }

    @Test
    void theTemplateIsAppliedToPromptsOnly(@TempDir Path dir) {
        Path file = dir.resolve("tokenizer.json");
        ByteLevelBpe.write(file, ByteLevelBpe.bytesOnly());
        try (SpinTokenizer t = SpinTokenizer.load(file, PromptTemplate.CHAT, 2)) {
            assertThat(t.decode(t.encodePrompt("hi"))).isEqualTo("<|user|>\nhi\n<|assistant|>\n");
            var example = t.example("hi", "hello");
            assertThat(t.decode(example.response())).isEqualTo("hello");
            // One token per byte without merges, plus EOS.
            assertThat(example.response()).hasSize(6);
        }
    }

    @Test
    void aSampledAnswerThatReEncodesLongerIsCutToTheContext(@TempDir Path dir) {
        Path file = dir.resolve("tokenizer.json");
        ByteLevelBpe.write(file, ByteLevelBpe.bytesOnly());
        try (SpinTokenizer t = SpinTokenizer.load(file, PromptTemplate.PLAIN, 2)) {
            // Two sampled bytes that are not UTF-8 decode to two U+FFFD, which re-encode as six bytes.
            String decoded = t.decode(new int[]{0xff + 3, 0xfe + 3, '7' + 3});
            int prompt = t.encodePrompt("12+34=").length;
            assertThat(t.encodeResponse(decoded).length).isGreaterThan(3 + 1);
            String fitted = t.fitResponse("12+34=", decoded, prompt + 5);
            assertThat(prompt + t.encodeResponse(fitted).length).isLessThanOrEqualTo(prompt + 5);
            assertThat(decoded).startsWith(fitted);
            assertThat(t.fitResponse("12+34=", "46", prompt + 5)).isEqualTo("46");
            assertThat(t.fitResponse("12+34=", "46", prompt + 1)).isEmpty();
        }
    }
}
