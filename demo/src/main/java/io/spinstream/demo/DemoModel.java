package io.spinstream.demo;

import io.spinstream.model.LlamaConfig;
import io.spinstream.model.tokenizer.ByteLevelBpe;

import java.nio.file.Path;

/**
 * The demo's model: a tiny Llama on a byte-level tokenizer with no merges, so that every digit is a token
 * of its own (merged digit groups would make carries invisible to the model).
 */
public record DemoModel(int hidden, int layers, int heads, int maxPositions) {
    public static final int VOCAB = 256 + ByteLevelBpe.SPECIAL_TOKENS.size();

    public static DemoModel defaults() {
        return new DemoModel(32, 1, 4, 32);
    }

    public LlamaConfig config() {
        return LlamaConfig.tiny(VOCAB, hidden, layers, heads, heads, maxPositions);
    }

    public void writeTokenizer(Path file) {
        ByteLevelBpe.write(file, ByteLevelBpe.bytesOnly());
    }

    public String describe() {
        return "Llama hidden " + hidden + ", " + layers + " layers, " + heads + " heads, byte-level vocabulary of " + VOCAB;
    }
}
