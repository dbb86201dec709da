package io.spinstream.cli.ops;

import io.spinstream.schemas.ChatTurn;
import io.spinstream.schemas.Prompt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The SFT formats people have, read into prompts; bad lines listed with their numbers. */
class PromptFileTest {

    static PromptFile read(Path dir, String text, PromptFile.Format format) throws IOException {
        return PromptFile.read(Files.writeString(dir.resolve("f.jsonl"), text), "s", format);
    }

    @Test
    void chatRecordsKeepTheirTurnsAndTheLastAssistantTurnIsTheHumanResponse(@TempDir Path dir) throws IOException {
        PromptFile f = read(dir, """
                {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}
                {"id": 17, "messages": [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue"}], "task": {"kind": "chat", "suites": ["nll"]}}
                """, PromptFile.Format.AUTO);
        assertThat(f.problems()).isEmpty();
        assertThat(f.format()).isEqualTo(PromptFile.Format.CHAT);
        Prompt first = f.prompts().get(0);
        assertThat(first.getPrompt()).isEqualTo("2+2?");
        assertThat(first.getHumanResponse()).isEqualTo("4");
        assertThat(first.getMessages()).extracting(ChatTurn::getRole).containsExactly("system", "user", "assistant", "user");
        assertThat(first.getMessages()).extracting(ChatTurn::getContent).containsExactly("Be brief.", "Hi", "Hello!", "2+2?");
        assertThat(first.getPromptId()).matches("h[0-9a-f]{16}");
        Prompt second = f.prompts().get(1);
        assertThat(second.getPromptId()).isEqualTo("17");
        assertThat(second.getTask().getSuites()).containsExactly("nll");
        // The same content always gets the same id: adding the file twice changes nothing on the compacted topic.
        assertThat(read(dir, "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi\"},"
                + " {\"role\": \"assistant\", \"content\": \"Hello!\"}, {\"role\": \"user\", \"content\": \"2+2?\"},"
                + " {\"role\": \"assistant\", \"content\": \"4\"}]}\n", PromptFile.Format.CHAT).prompts().get(0).getPromptId())
                .isEqualTo(first.getPromptId());
    }

    @Test
    void promptCompletionAlpacaAndSpinRecords(@TempDir Path dir) throws IOException {
        PromptFile pc = read(dir, """
                {"prompt": "1+1=", "completion": "2"}
                {"prompt": "2+2=", "completion": "4", "id": "x"}
                """, PromptFile.Format.AUTO);
        assertThat(pc.format()).isEqualTo(PromptFile.Format.PROMPT_COMPLETION);
        assertThat(pc.prompts()).extracting(Prompt::getHumanResponse).containsExactly("2", "4");
        assertThat(pc.prompts().get(1).getPromptId()).isEqualTo("x");
        assertThat(pc.prompts().get(0).getMessages()).isEmpty();
        PromptFile response = read(dir, "{\"prompt\": \"q\", \"response\": \"a\"}\n", PromptFile.Format.AUTO);
        assertThat(response.prompts().get(0).getHumanResponse()).isEqualTo("a");

        PromptFile alpaca = read(dir, """
                {"instruction": "Translate to French.", "input": "cat", "output": "chat"}
                {"instruction": "Say hi.", "input": "", "output": "hi"}
                """, PromptFile.Format.AUTO);
        assertThat(alpaca.format()).isEqualTo(PromptFile.Format.ALPACA);
        assertThat(alpaca.prompts()).extracting(Prompt::getPrompt).containsExactly("Translate to French.\n\ncat", "Say hi.");

        PromptFile spin = read(dir, "{\"prompt_id\": \"a\", \"prompt\": \"1+1=\", \"human_response\": \"2\","
                + " \"task\": {\"kind\": \"addition\", \"verifiable\": true}}\n", PromptFile.Format.AUTO);
        assertThat(spin.format()).isEqualTo(PromptFile.Format.SPIN);
        assertThat(spin.prompts().get(0).getTask().getVerifiable()).isTrue();
    }

    @Test
    void spinRecordsWithoutAHumanResponseAreUnlabelledPrompts(@TempDir Path dir) throws IOException {
        PromptFile f = read(dir, """
                {"prompt_id": "u1", "prompt": "3+4=", "task": {"kind": "addition", "attributes": {"verify": "exact", "answer": "7"}}}
                {"prompt_id": "u2", "prompt": "5+5=", "human_response": null}
                {"prompt_id": "l1", "prompt": "1+1=", "human_response": "2"}
                {"prompt": "9+9="}
                """, PromptFile.Format.SPIN);
        assertThat(f.problems()).as("a SPIN record needs its prompt_id").containsExactly("line 4: prompt_id is missing or not a non-empty string");
        assertThat(f.prompts()).extracting(Prompt::getPromptId).containsExactly("u1", "u2", "l1");
        assertThat(f.prompts()).extracting(Prompt::getHumanResponse).containsExactly(null, null, "2");
        assertThat(f.prompts().get(0).getTask().getAttributes()).containsEntry("answer", "7");
        assertThat(read(dir, "{\"prompt_id\": \"u1\", \"prompt\": \"3+4=\"}\n", PromptFile.Format.AUTO).format())
                .as("prompt_id and prompt alone read as Spinstream's form").isEqualTo(PromptFile.Format.SPIN);
    }

    @Test
    void everyBadLineIsListedWithItsNumberAndReason(@TempDir Path dir) throws IOException {
        PromptFile f = read(dir, """
                {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
                {"messages": [{"role": "user", "content": "Hi"}]}
                {"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]}
                {"messages": [{"role": "system", "content": "x"}, {"role": "assistant", "content": "y"}]}
                [1, 2]
                {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
                not json
                {"id": "x", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
                {"id": "x", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Bye"}]}
                """, PromptFile.Format.AUTO);
        assertThat(f.prompts()).extracting(Prompt::getHumanResponse).containsExactly("Hello", "Hello");
        assertThat(f.duplicates()).as("line 6 repeats line 1 exactly: kept once, counted").isEqualTo(1);
        assertThat(f.duplicatesLine()).isEqualTo("1 exact duplicate skipped");
        assertThat(f.problems()).hasSize(6);
        assertThat(f.problems().subList(0, 4)).containsExactly(
                "line 2: the last message is a user turn: expected an assistant turn, the human response",
                "line 3: messages[0].role is 'robot': expected system, user or assistant",
                "line 4: no user turn before the assistant's",
                "line 5: not a JSON object");
        assertThat(f.problems().get(4)).startsWith("line 7: not JSON");
        assertThat(f.problems().get(5))
                .isEqualTo("line 9: prompt_id 'x' is also on line 8 with other content: two different records under one id");
        PromptFile unknown = read(dir, "{\"question\": \"?\", \"answer\": \"!\"}\n", PromptFile.Format.AUTO);
        assertThat(unknown.problems()).singleElement().asString().contains("cannot tell the file's format").contains("--format");
        PromptFile forced = read(dir, "{\"prompt\": \"q\"}\n", PromptFile.Format.PROMPT_COMPLETION);
        assertThat(forced.problems()).containsExactly("line 1: response is missing or not a string");
    }
}
