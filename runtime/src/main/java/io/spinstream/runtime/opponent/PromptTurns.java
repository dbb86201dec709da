package io.spinstream.runtime.opponent;

import io.spinstream.model.tokenizer.ChatMessage;
import io.spinstream.schemas.Prompt;

import java.util.List;

/** A prompt as the chat template sees it: its turns, or a single user turn of its text. */
public final class PromptTurns {
    private PromptTurns() {
    }

    public static List<ChatMessage> of(Prompt p) {
        if (p.getMessages() == null || p.getMessages().isEmpty()) {
            return List.of(ChatMessage.user(p.getPrompt()));
        }
        return p.getMessages().stream().map(t -> new ChatMessage(t.getRole(), t.getContent())).toList();
    }
}
