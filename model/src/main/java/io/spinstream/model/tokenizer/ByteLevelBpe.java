package io.spinstream.model.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a Hugging Face {@code tokenizer.json} for a byte-level BPE (GPT-2 style): every byte has a
 * token, so any text round-trips exactly, and merges learned from a corpus shorten frequent sequences.
 * The project makes its own tokenizers this way, since none can be downloaded.
 */
public final class ByteLevelBpe {
    public static final List<String> SPECIAL_TOKENS = List.of("<pad>", "<bos>", "<eos>");
    private static final ObjectMapper JSON = new ObjectMapper();

    private ByteLevelBpe() {
    }

    /** GPT-2's byte-to-character table: printable bytes stand for themselves, the rest are shifted. */
    static char[] byteAlphabet() {
        char[] table = new char[256];
        boolean[] printable = new boolean[256];
        for (int b = '!'; b <= '~'; b++) {
            printable[b] = true;
        }
        for (int b = 0xA1; b <= 0xAC; b++) {
            printable[b] = true;
        }
        for (int b = 0xAE; b <= 0xFF; b++) {
            printable[b] = true;
        }
        int shifted = 0;
        for (int b = 0; b < 256; b++) {
            table[b] = printable[b] ? (char) b : (char) (256 + shifted++);
        }
        return table;
    }

    /**
     * Learns up to {@code vocabSize - 259} merges from {@code corpus} (most frequent adjacent pair first,
     * within words as the ByteLevel pre-tokenizer splits them) and returns the tokenizer.json text.
     */
    public static String train(List<String> corpus, int vocabSize) {
        int base = SPECIAL_TOKENS.size() + 256;
        if (vocabSize < base) {
            throw new IllegalArgumentException("a byte-level vocabulary needs at least " + base + " tokens, got " + vocabSize);
        }
        char[] alphabet = byteAlphabet();
        // Words as the pre-tokenizer sees them: a leading space joins the following word.
        Map<List<String>, Integer> words = new HashMap<>();
        for (String text : corpus) {
            for (String word : text.split("(?=[ \\n])")) {
                List<String> symbols = new ArrayList<>();
                for (byte b : word.getBytes(StandardCharsets.UTF_8)) {
                    symbols.add(String.valueOf(alphabet[b & 0xFF]));
                }
                if (!symbols.isEmpty()) {
                    words.merge(symbols, 1, Integer::sum);
                }
            }
        }
        List<String[]> merges = new ArrayList<>();
        while (base + merges.size() < vocabSize) {
            Map<String, Integer> pairs = new HashMap<>();
            for (Map.Entry<List<String>, Integer> w : words.entrySet()) {
                List<String> s = w.getKey();
                for (int i = 0; i + 1 < s.size(); i++) {
                    pairs.merge(s.get(i) + "\u0000" + s.get(i + 1), w.getValue(), Integer::sum);
                }
            }
            String best = pairs.entrySet().stream()
                    .filter(e -> e.getValue() >= 2)
                    .max(Map.Entry.<String, Integer>comparingByValue()
                            // ties: the lexicographically smallest pair, so that training is deterministic
                            .thenComparing(Map.Entry::getKey, Comparator.reverseOrder()))
                    .map(Map.Entry::getKey).orElse(null);
            if (best == null) {
                break;
            }
            String[] pair = best.split("\u0000", 2);
            merges.add(pair);
            Map<List<String>, Integer> next = new HashMap<>();
            for (Map.Entry<List<String>, Integer> w : words.entrySet()) {
                List<String> s = w.getKey();
                List<String> merged = new ArrayList<>();
                for (int i = 0; i < s.size(); i++) {
                    if (i + 1 < s.size() && s.get(i).equals(pair[0]) && s.get(i + 1).equals(pair[1])) {
                        merged.add(pair[0] + pair[1]);
                        i++;
                    } else {
                        merged.add(s.get(i));
                    }
                }
                next.merge(merged, w.getValue(), Integer::sum);
            }
            words = next;
        }
        return json(merges);
    }

    /** No merges: one token per byte. */
    public static String bytesOnly() {
        return json(List.of());
    }

    private static String json(List<String[]> merges) {
        char[] alphabet = byteAlphabet();
        Map<String, Integer> vocab = new LinkedHashMap<>();
        SPECIAL_TOKENS.forEach(t -> vocab.put(t, vocab.size()));
        for (char c : alphabet) {
            vocab.put(String.valueOf(c), vocab.size());
        }
        for (String[] m : merges) {
            vocab.putIfAbsent(m[0] + m[1], vocab.size());
        }
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (int i = 0; i < SPECIAL_TOKENS.size(); i++) {
            ObjectNode t = added.addObject();
            t.put("id", i);
            t.put("content", SPECIAL_TOKENS.get(i));
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", false);
            t.put("special", true);
        }
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "ByteLevel");
        pre.put("add_prefix_space", false);
        pre.put("trim_offsets", true);
        pre.put("use_regex", true);
        root.putNull("post_processor");
        ObjectNode decoder = root.putObject("decoder");
        decoder.put("type", "ByteLevel");
        decoder.put("add_prefix_space", false);
        decoder.put("trim_offsets", true);
        decoder.put("use_regex", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", false);
        ObjectNode v = model.putObject("vocab");
        vocab.forEach(v::put);
        ArrayNode m = model.putArray("merges");
        merges.forEach(pair -> m.add(pair[0] + " " + pair[1]));
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static void write(Path file, String tokenizerJson) {
        try {
            Files.writeString(file, tokenizerJson);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}
