package io.spinstream.model.tokenizer;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import io.spinstream.model.TokenBatch;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face {@code tokenizer.json} through DJL's tokenizers (native, offline), with the prompt
 * template applied in one place. Special tokens are never added implicitly: the response ends with EOS
 * explicitly, so that log p(y|x) includes stopping.
 */
public final class SpinTokenizer implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;
    private final PromptTemplate.Renderer template;
    private final int eosId;
    private final Path source;

    private SpinTokenizer(HuggingFaceTokenizer tokenizer, PromptTemplate.Renderer template, int eosId, Path source) {
        this.tokenizer = tokenizer;
        this.template = template;
        this.eosId = eosId;
        this.source = source;
    }

    /**
     * The tokenizer at {@code tokenizerJson}; {@code template} {@code model} and {@code auto} read the chat
     * template from the {@code tokenizer_config.json} beside it.
     */
    public static SpinTokenizer load(Path tokenizerJson, PromptTemplate template, int eosId) {
        if (!Files.isRegularFile(tokenizerJson)) {
            throw new IllegalArgumentException("no tokenizer at " + tokenizerJson);
        }
        PromptTemplate.Renderer renderer = template.resolve(tokenizerJson.toAbsolutePath().getParent());
        try {
            HuggingFaceTokenizer t = HuggingFaceTokenizer.newInstance(tokenizerJson,
                    Map.of("addSpecialTokens", "false", "padding", "false", "truncation", "false"));
            return new SpinTokenizer(t, renderer, eosId, tokenizerJson);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load tokenizer " + tokenizerJson, e);
        }
    }

    public Path source() {
        return source;
    }

    public int eosId() {
        return eosId;
    }

    public int[] encode(String text) {
        Encoding e = tokenizer.encode(text, false, false);
        long[] ids = e.getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = (int) ids[i];
        }
        return out;
    }

    /** A single-turn prompt's tokens after the template. */
    public int[] encodePrompt(String prompt) {
        return encodePrompt(List.of(ChatMessage.user(prompt)));
    }

    /** The conversation's tokens after the template, up to the start of the answer. */
    public int[] encodePrompt(List<ChatMessage> turns) {
        return encode(template.render(turns));
    }

    /** The response's tokens followed by EOS. */
    public int[] encodeResponse(String response) {
        return withEos(encode(response));
    }

    private int[] withEos(int[] body) {
        int[] out = java.util.Arrays.copyOf(body, body.length + 1);
        out[body.length] = eosId;
        return out;
    }

    public TokenBatch.Example example(String prompt, String response) {
        return example(List.of(ChatMessage.user(prompt)), response);
    }

    public TokenBatch.Example example(List<ChatMessage> turns, String response) {
        return new TokenBatch.Example(encodePrompt(turns), encodeResponse(response));
    }

    /** The prompt with a response given as its tokens (a model's own, as generated), then EOS. */
    public TokenBatch.Example example(List<ChatMessage> turns, int[] responseTokens) {
        return new TokenBatch.Example(encodePrompt(turns), withEos(responseTokens));
    }

    /**
     * {@code response} shortened from the end until prompt, response and EOS fit in {@code maxPositions}.
     * A sampled answer can re-encode longer than it was generated (bytes that are not valid UTF-8 decode
     * to U+FFFD, three bytes each), and the text is what the trainer re-encodes, so the text is cut.
     */
    public String fitResponse(String prompt, String response, int maxPositions) {
        return fitResponse(List.of(ChatMessage.user(prompt)), response, maxPositions);
    }

    public String fitResponse(List<ChatMessage> turns, String response, int maxPositions) {
        int room = maxPositions - encodePrompt(turns).length;
        String out = response;
        while (!out.isEmpty() && encodeResponse(out).length > room) {
            out = out.substring(0, out.offsetByCodePoints(out.length(), -1));
        }
        return out;
    }

    /** Text of the ids, special tokens left out. */
    public String decode(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
        }
        return tokenizer.decode(l, true);
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
