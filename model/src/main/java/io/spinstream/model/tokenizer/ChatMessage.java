package io.spinstream.model.tokenizer;

/** One turn of a conversation: {@code system}, {@code user} or {@code assistant}, and its text. */
public record ChatMessage(String role, String content) {
    public ChatMessage {
        if (role == null || role.isBlank()) {
            throw new IllegalArgumentException("a chat message needs a role");
        }
        content = content == null ? "" : content;
    }

    public static ChatMessage user(String content) {
        return new ChatMessage("user", content);
    }
}
