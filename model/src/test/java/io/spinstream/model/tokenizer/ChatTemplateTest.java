package io.spinstream.model.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.LinkedHashMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/** Real models' chat templates rendered by the Jinja engine, against strings written by hand. */
class ChatTemplateTest {
    static final List<ChatMessage> ONE = List.of(ChatMessage.user("What is 2+2?"));
    static final List<ChatMessage> THREE = List.of(new ChatMessage("user", "Hi"), new ChatMessage("assistant", "Hello!"),
            new ChatMessage("user", "What is 2+2?"));

    static String resource(String name) throws IOException {
        try (InputStream in = ChatTemplateTest.class.getResourceAsStream("/chat-templates/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void qwen2ChatMl() throws IOException {
        ChatTemplate t = new ChatTemplate(resource("qwen2-instruct.jinja"), null, "<|im_end|>");
        assertThat(t.render(ONE, true)).isEqualTo("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
        assertThat(t.render(List.of(new ChatMessage("system", "Be brief."), ChatMessage.user("What is 2+2?")), false))
                .isEqualTo("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n");
    }

    /**
     * Qwen2.5-Instruct's template as published: indented over many lines, every tag trimmed by {@code {%-} and
     * {@code {{-}. transformers renders no whitespace of the indentation.
     */
    @Test
    void qwen25WhitespaceControl() throws IOException {
        ChatTemplate t = new ChatTemplate(resource("qwen2.5-instruct.jinja"), null, "<|im_end|>");
        assertThat(t.render(ONE, true)).isEqualTo("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a"
                + " helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
        assertThat(t.render(List.of(new ChatMessage("system", "Be brief."), new ChatMessage("user", "Hi"),
                new ChatMessage("assistant", "Hello!"), new ChatMessage("user", "What is 2+2?")), false))
                .isEqualTo("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                        + "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n");
    }

    /** Llama 3.2-Instruct's template: the system turn with today's date (transformers' strftime_now), tools absent. */
    @Test
    void llama32WithTodaysDate() throws IOException {
        ChatTemplate t = new ChatTemplate(resource("llama3.2-instruct.jinja"), "<|begin_of_text|>", "<|eot_id|>");
        String today = DateTimeFormatter.ofPattern("dd MMM yyyy", Locale.ENGLISH)
                .format(LocalDate.now());
        assertThat(t.render(ONE, true)).isEqualTo("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Cutting Knowledge Date: December 2023\nToday Date: " + today + "\n\n<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n");
        assertThat(t.render(List.of(new ChatMessage("system", " Be brief. "), ChatMessage.user("Hi"),
                new ChatMessage("assistant", "Hello!")), false))
                .isEqualTo("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                        + "Cutting Knowledge Date: December 2023\nToday Date: " + today + "\n\nBe brief.<|eot_id|>"
                        + "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>");
    }

    /** Gemma 3's template: a system turn folded into the first user turn, "model" for the assistant, roles checked. */
    @Test
    void gemma3() throws IOException {
        ChatTemplate t = new ChatTemplate(resource("gemma3-it.jinja"), "<bos>", "<eos>");
        assertThat(t.render(ONE, true)).isEqualTo("<bos><start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n");
        assertThat(t.render(List.of(new ChatMessage("system", "Be brief."), ChatMessage.user(" Hi "),
                new ChatMessage("assistant", "Hello!")), false))
                .isEqualTo("<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n");
        assertThatThrownBy(() -> t.render(List.of(new ChatMessage("assistant", "x")), true))
                .hasMessageContaining("Conversation roles must alternate user/assistant/user/assistant/...");
    }

    /** Phi-3.5-mini-instruct's template: the EOS closes a conversation rendered without a generation prompt. */
    @Test
    void phi35() throws IOException {
        ChatTemplate t = new ChatTemplate(resource("phi3.5-mini-instruct.jinja"), "<s>", "<|endoftext|>");
        assertThat(t.render(ONE, true)).isEqualTo("<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n");
        assertThat(t.render(List.of(new ChatMessage("system", ""), ChatMessage.user("Hi"), new ChatMessage("assistant", "Hello!")),
                false)).isEqualTo("<|user|>\nHi<|end|>\n<|assistant|>\nHello!<|end|>\n<|endoftext|>");
    }

    /**
     * Qwen3's template: Python string methods (startswith, split, strip), a namespace, a reversed slice; the last
     * assistant turn after the last query carries an empty think block, as transformers renders it.
     */
    @Test
    void qwen3() throws IOException {
        ChatTemplate t = new ChatTemplate(resource("qwen3.jinja"), null, "<|im_end|>");
        assertThat(t.render(ONE, true)).isEqualTo("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
        assertThat(t.render(List.of(new ChatMessage("system", "Be brief."), ChatMessage.user("Hi"),
                new ChatMessage("assistant", "Hello!")), false))
                .isEqualTo("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                        + "<|im_start|>assistant\n<think>\n\n</think>\n\nHello!<|im_end|>\n");
        assertThat(t.render(List.of(ChatMessage.user("Hi"), new ChatMessage("assistant", "<think>\nhm\n</think>\n\nHello!"),
                ChatMessage.user("Bye")), true))
                .as("an earlier turn's reasoning is dropped")
                .isEqualTo("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"
                        + "<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n");
    }

    /** Python's str methods with Python's meaning, and the Jinja that jinjava reads otherwise, rewritten faithfully. */
    @Test
    void pythonStringMethodsAndRewrittenSyntax() {
        ChatTemplate t = new ChatTemplate("{{ 'a.b.'.split('.') | length }}|{{ ' x  y '.split() | length }}|"
                + "{{ 'xxaxx'.strip('x') }}|{{ '[::-1]' }}|{{ [1, 2, 3][::-1] | join(',') }}|"
                + "{%- set ns = namespace(n=messages|length - 1, s='a,b') %}{{ ns.n }}{{ ns.s }}|"
                + "{{ messages[0].content.startswith(('x', 'Wh')) }}", null, "e");
        assertThat(t.render(ONE, false)).isEqualTo("3|2|a|[::-1]|3,2,1|0a,b|true");
    }

    @Test
    void llama3() throws IOException {
        ChatTemplate t = new ChatTemplate(resource("llama3-instruct.jinja"), "<|begin_of_text|>", "<|eot_id|>");
        assertThat(t.render(List.of(new ChatMessage("system", "Be brief."), ChatMessage.user("  What is 2+2? ")), true))
                .isEqualTo("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                        + "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\n");
    }

    @Test
    void mistralAndItsRaisedExceptions() throws IOException {
        ChatTemplate t = new ChatTemplate(resource("mistral-instruct-v0.1.jinja"), "<s>", "</s>");
        assertThat(t.render(ONE, true)).isEqualTo("<s>[INST] What is 2+2? [/INST]");
        assertThat(t.render(THREE, true)).isEqualTo("<s>[INST] Hi [/INST]Hello!</s>[INST] What is 2+2? [/INST]");
        assertThatThrownBy(() -> t.render(List.of(new ChatMessage("assistant", "x")), true))
                .hasMessageContaining("Conversation roles must alternate user/assistant/user/assistant/...");
        assertThatThrownBy(() -> t.render(List.of(new ChatMessage("system", "x"), new ChatMessage("user", "y")), true))
                .hasMessageContaining("Conversation roles must alternate");
    }

    /**
     * Templates from the internet that would spin, grow or recurse without end are refused within the render's time
     * limit, each with its reason, and the same engine then renders a normal conversation at once.
     */
    @Test
    void hostileTemplatesAreRefusedWithinBounds() throws IOException {
        Map<String, String> hostile = new LinkedHashMap<>();
        hostile.put("nested loops", "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
                + "{% endfor %}{% endfor %}{% endfor %}x");
        hostile.put("doubling", "{% set ns = namespace(x='ab') %}{% for i in range(60) %}{% set ns.x = ns.x ~ ns.x %}"
                + "{% endfor %}{{ ns.x|length }}");
        hostile.put("huge output", "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}");
        hostile.put("recursion", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
        hostile.put("huge range", "{% for i in range(1000000000) %}{% endfor %}x");
        for (Map.Entry<String, String> e : hostile.entrySet()) {
            ChatTemplate t = new ChatTemplate(e.getValue(), "<s>", "</s>");
            long started = System.nanoTime();
            String rendered = null;
            try {
                rendered = t.render(ONE, true);
            } catch (ChatTemplate.Refusal refusal) {
                assertThat(refusal).as(e.getKey()).hasMessageStartingWith("the chat template refused the conversation: ");
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            assertThat(seconds).as(e.getKey() + ": refused within the time limit").isLessThan(4.0);
            if (e.getKey().equals("huge range")) { // jinjava's range limit cuts the loop short: bounded, not refused
                assertThat(rendered).isEqualTo("x");
            } else {
                assertThat(rendered).as(e.getKey() + " refused").isNull();
            }
        }
        ChatTemplate normal = new ChatTemplate(resource("mistral-instruct-v0.1.jinja"), "<s>", "</s>");
        assertThat(normal.render(ONE, true)).isEqualTo("<s>[INST] What is 2+2? [/INST]");
    }

    @Test
    void readFromTokenizerConfigWithAddedTokenObjects(@TempDir Path dir) throws IOException {
        ObjectNode config = new ObjectMapper().createObjectNode();
        config.put("chat_template", resource("mistral-instruct-v0.1.jinja"));
        config.putObject("bos_token").put("__type", "AddedToken").put("content", "<s>");
        config.put("eos_token", "</s>");
        Files.writeString(dir.resolve("tokenizer_config.json"), config.toString());
        ChatTemplate t = ChatTemplate.in(dir).orElseThrow();
        assertThat(t.bosToken()).isEqualTo("<s>");
        assertThat(t.eosToken()).isEqualTo("</s>");
        assertThat(t.render(ONE, true)).isEqualTo("<s>[INST] What is 2+2? [/INST]");
        assertThat(ChatTemplate.in(dir.resolve("nowhere"))).isEmpty();
    }

    @Test
    void autoFallsBackToPlainAndModelNamesTheMissingFile(@TempDir Path dir) {
        assertThat(PromptTemplate.AUTO.resolve(dir).render(ONE)).isEqualTo("What is 2+2?");
        assertThat(PromptTemplate.PLAIN.resolve(dir).render(ONE)).isEqualTo("What is 2+2?");
        assertThat(PromptTemplate.CHAT.resolve(dir).render(ONE)).isEqualTo("<|user|>\nWhat is 2+2?\n<|assistant|>\n");
        assertThatThrownBy(() -> PromptTemplate.MODEL.resolve(dir))
                .hasMessageContaining("spin.prompt.template=model").hasMessageContaining("tokenizer_config.json has no chat_template");
    }
}
