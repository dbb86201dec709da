package io.spinstream.model.tokenizer;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/**
 * How a prompt is laid out before the response: the one place that decides it, for training,
 * generation and evaluation alike (a mismatch between them silently hurts every metric). {@code model}
 * and {@code auto} are resolved against the checkpoint's own {@code tokenizer_config.json}.
 */
public enum PromptTemplate {
    /** The prompt as it is (turns joined by a blank line); the response follows directly. For tasks whose prompts end in a cue ("12+30="). */
    PLAIN,
    /** A simple role-tagged layout ({@code <|user|>}...{@code <|assistant|>}) for models without a template of their own. */
    CHAT,
    /** The model's own Jinja chat template from its tokenizer_config.json (required). */
    MODEL,
    /** MODEL when the checkpoint has a chat template, else PLAIN. */
    AUTO;

    /** Renders turns up to the start of the answer. */
    @FunctionalInterface
    public interface Renderer {
        String render(List<ChatMessage> turns);
    }

    /** The renderer for a checkpoint whose tokenizer files lie in {@code folder}. */
    public Renderer resolve(Path folder) {
        return switch (this) {
            case PLAIN -> turns -> turns.stream().map(ChatMessage::content).collect(Collectors.joining("\n\n"));
            case CHAT -> turns -> turns.stream().map(t -> "<|" + t.role() + "|>\n" + t.content() + "\n")
                    .collect(Collectors.joining()) + "<|assistant|>\n";
            case MODEL -> {
                ChatTemplate t = ChatTemplate.in(folder).orElseThrow(() -> new IllegalArgumentException(
                        "spin.prompt.template=model, but " + folder.resolve(ChatTemplate.TOKENIZER_CONFIG)
                                + " has no chat_template"));
                yield turns -> t.render(turns, true);
            }
            case AUTO -> ChatTemplate.in(folder).<Renderer>map(t -> turns -> t.render(turns, true)).orElse(PLAIN.resolve(folder));
        };
    }

    /** The key's value, as configuration writes it: plain, chat, model or auto. */
    public String key() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
