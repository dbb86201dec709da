package io.spinstream.model.tokenizer;

/**
 * How a prompt is laid out before the response: the one place that decides it, for training,
 * generation and evaluation alike (a mismatch between them silently hurts every metric).
 */
public enum PromptTemplate {
    /** The prompt as it is; the response follows directly. For tasks whose prompts end in a cue ("12+30="). */
    PLAIN {
        @Override
        public String render(String prompt) {
            return prompt;
        }
    },
    /** A single user turn, then the assistant's. */
    CHAT {
        @Override
        public String render(String prompt) {
            return "<|user|>\n" + prompt + "\n<|assistant|>\n";
        }
    };

    public abstract String render(String prompt);
}
