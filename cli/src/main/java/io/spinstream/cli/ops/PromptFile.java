package io.spinstream.cli.ops;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spinstream.schemas.ChatTurn;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.TaskMetadata;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.ToLongFunction;

/**
 * A JSON Lines file of SFT examples in the formats people have: chat records ({@code messages}: the last
 * assistant turn is the human response, everything before it the prompt, system turns kept),
 * prompt/completion ({@code prompt} with {@code completion} or {@code response}), Alpaca
 * ({@code instruction}, {@code input}, {@code output}) and Spinstream's own ({@code prompt_id},
 * {@code prompt}, {@code human_response}, which may be left out or null for an unlabelled prompt); each
 * may carry a {@code task} ({@code kind},
 * {@code verifiable}, {@code suites}, {@code attributes}). The prompt id is the record's {@code id} or
 * {@code prompt_id}, else a hash of its content, so the same file added twice changes nothing. An example
 * repeated exactly (real SFT sets repeat some) is kept once and counted in {@code duplicates}; two different
 * records under one id are a problem naming both lines. Every line is checked before anything is sent;
 * problems carry their line numbers.
 */
public record PromptFile(List<Prompt> prompts, List<Integer> lines, List<String> problems, Format format, int duplicates) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Problems of the records a topic would not take: each record larger than {@code acceptedBytes} (its serialized
     * size by {@code sizeOf}), named by its line with both sizes. Checked before anything is sent.
     */
    public List<String> oversized(long acceptedBytes, ToLongFunction<Prompt> sizeOf) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            long size = sizeOf.applyAsLong(prompts.get(i));
            if (size > acceptedBytes) {
                out.add(String.format(Locale.ROOT, "line %d: the record is %,d bytes; the topic takes at most %,d",
                        lines.get(i), size, acceptedBytes));
            }
        }
        return out;
    }

    /**
     * The file's lines, each decoded as strict UTF-8: a line that is not is a problem naming it and the byte where the
     * bad sequence starts (its text then null).
     */
    private static List<String> utf8Lines(byte[] bytes, List<String> problems) {
        List<String> lines = new ArrayList<>();
        int start = 0;
        for (int i = 0; i <= bytes.length; i++) {
            if (i < bytes.length && bytes[i] != '\n') {
                continue;
            }
            if (i == bytes.length && start == bytes.length) {
                break; // the file ends in a newline
            }
            int end = i > start && bytes[i - 1] == '\r' ? i - 1 : i;
            CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
            ByteBuffer in = ByteBuffer.wrap(bytes, start, end - start);
            CharBuffer out = CharBuffer.allocate(end - start);
            CoderResult r = decoder.decode(in, out, true);
            if (r.isError()) {
                problems.add(String.format(Locale.ROOT, "line %d: not UTF-8 at byte %d of the line (byte %d of the file)",
                        lines.size() + 1, in.position() - start + 1, in.position() + 1));
                lines.add(null);
            } else {
                decoder.flush(out);
                lines.add(out.flip().toString());
            }
            start = i + 1;
        }
        return lines;
    }
    private static final Set<String> ROLES = Set.of("system", "user", "assistant");

    public enum Format {
        AUTO, SPIN, CHAT, PROMPT_COMPLETION, ALPACA;

        public String key() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        public static Format parse(String s) {
            for (Format f : values()) {
                if (f.key().equals(s)) {
                    return f;
                }
            }
            throw new IllegalArgumentException("format '" + s + "': expected auto, spin, chat, prompt-completion or alpaca");
        }
    }

    public static PromptFile read(Path file, String stream) throws IOException {
        return read(file, stream, Format.AUTO);
    }

    public static PromptFile read(Path file, String stream, Format requested) throws IOException {
        List<String> problems = new ArrayList<>();
        List<String> lines = utf8Lines(Files.readAllBytes(file), problems);
        Format format = requested == Format.AUTO ? detect(lines) : requested;
        List<Prompt> prompts = new ArrayList<>();
        List<Integer> lineNumbers = new ArrayList<>();
        if (format == Format.AUTO) {
            problems.add("cannot tell the file's format from its first record: expected messages (chat), prompt with"
                    + " completion or response, instruction with output (alpaca), or prompt_id, prompt and human_response;"
                    + " pass --format");
            return new PromptFile(prompts, lineNumbers, problems, format, 0);
        }
        Map<String, Integer> lineOf = new HashMap<>();
        Map<String, Prompt> byId = new HashMap<>();
        int duplicates = 0;
        Instant now = Instant.now();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line == null || line.isBlank()) { // null: not UTF-8, a problem already
                continue;
            }
            try {
                JsonNode n = JSON.readTree(line);
                if (!n.isObject()) {
                    throw new IllegalArgumentException("not a JSON object");
                }
                Prompt p = switch (format) {
                    case CHAT -> chat(n, stream);
                    case PROMPT_COMPLETION -> simple(n, stream, text(n, "prompt"),
                            n.has("completion") ? text(n, "completion", true) : text(n, "response", true));
                    case ALPACA -> {
                        String input = n.path("input").asText("");
                        yield simple(n, stream, text(n, "instruction") + (input.isBlank() ? "" : "\n\n" + input), text(n, "output", true));
                    }
                    // Spinstream's own form may leave human_response out (or null): an unlabelled prompt.
                    default -> simple(n, stream, text(n, "prompt"),
                            n.path("human_response").isMissingNode() || n.path("human_response").isNull() ? null
                                    : text(n, "human_response", true));
                };
                if (format == Format.SPIN && !n.has("prompt_id")) {
                    throw new IllegalArgumentException("prompt_id is missing or not a non-empty string");
                }
                Prompt earlier = byId.get(p.getPromptId());
                if (earlier != null) {
                    if (earlier.equals(p)) {
                        duplicates++; // the same example again: published once
                        continue;
                    }
                    throw new IllegalArgumentException("prompt_id '" + p.getPromptId() + "' is also on line "
                            + lineOf.get(p.getPromptId()) + " with other content: two different records under one id");
                }
                byId.put(p.getPromptId(), Prompt.newBuilder(p).build());
                lineOf.put(p.getPromptId(), i + 1);
                p.setCreatedAt(now);
                prompts.add(p);
                lineNumbers.add(i + 1);
            } catch (IOException | RuntimeException e) {
                problems.add("line " + (i + 1) + ": " + (e instanceof IOException ? "not JSON: " : "") + e.getMessage());
            }
        }
        return new PromptFile(prompts, lineNumbers, problems, format, duplicates);
    }

    /** "14 exact duplicates skipped" (or nothing to say when there were none). */
    public String duplicatesLine() {
        return duplicates == 0 ? "" : duplicates + " exact duplicate" + (duplicates == 1 ? "" : "s") + " skipped";
    }

    /** The format of the first record that parses as a JSON object. */
    static Format detect(List<String> lines) {
        for (String line : lines) {
            if (line == null || line.isBlank()) {
                continue;
            }
            try {
                JsonNode n = JSON.readTree(line);
                if (n.has("messages")) {
                    return Format.CHAT;
                }
                if (n.has("instruction") && n.has("output")) {
                    return Format.ALPACA;
                }
                if (n.has("prompt") && (n.has("completion") || n.has("response"))) {
                    return Format.PROMPT_COMPLETION;
                }
                if (n.has("prompt") && (n.has("human_response") || n.has("prompt_id"))) {
                    return Format.SPIN;
                }
                return Format.AUTO;
            } catch (IOException e) {
                // a line that is not JSON is reported by the parse; the next one decides
            }
        }
        return Format.AUTO;
    }

    private static Prompt chat(JsonNode n, String stream) {
        JsonNode messages = n.get("messages");
        if (messages == null || !messages.isArray() || messages.isEmpty()) {
            throw new IllegalArgumentException("messages is missing or not a non-empty list");
        }
        List<ChatTurn> turns = new ArrayList<>();
        for (int k = 0; k < messages.size(); k++) {
            JsonNode m = messages.get(k);
            String role = m.path("role").asText("");
            if (!ROLES.contains(role)) {
                throw new IllegalArgumentException("messages[" + k + "].role is '" + role + "': expected system, user or assistant");
            }
            if (!m.path("content").isTextual()) {
                throw new IllegalArgumentException("messages[" + k + "].content is missing or not a string");
            }
            turns.add(ChatTurn.newBuilder().setRole(role).setContent(m.get("content").asText()).build());
        }
        ChatTurn last = turns.get(turns.size() - 1);
        if (!last.getRole().equals("assistant")) {
            throw new IllegalArgumentException("the last message is a " + last.getRole()
                    + " turn: expected an assistant turn, the human response");
        }
        List<ChatTurn> before = turns.subList(0, turns.size() - 1);
        String lastUser = before.stream().filter(t -> t.getRole().equals("user")).reduce((a, b) -> b)
                .map(ChatTurn::getContent).orElseThrow(() -> new IllegalArgumentException("no user turn before the assistant's"));
        Prompt p = simple(n, stream, lastUser, last.getContent());
        p.setMessages(new ArrayList<>(before));
        if (!n.has("id") && !n.has("prompt_id")) {
            p.setPromptId(hash(before.stream().map(t -> t.getRole() + ":" + t.getContent()).toList(), last.getContent()));
        }
        return p;
    }

    private static Prompt simple(JsonNode n, String stream, String prompt, String human) {
        String id = n.has("prompt_id") ? id(n, "prompt_id") : n.has("id") ? id(n, "id") : hash(List.of(prompt), human);
        JsonNode t = n.path("task");
        List<String> suites = new ArrayList<>();
        t.path("suites").forEach(s -> suites.add(s.asText()));
        Map<String, String> attributes = new HashMap<>();
        t.path("attributes").fields().forEachRemaining(e -> attributes.put(e.getKey(), e.getValue().asText()));
        return Prompt.newBuilder().setPromptId(id).setStream(stream).setPrompt(prompt).setHumanResponse(human)
                .setTask(TaskMetadata.newBuilder().setKind(t.path("kind").asText("open"))
                        .setVerifiable(t.path("verifiable").asBoolean(false)).setSuites(suites)
                        .setAttributes(attributes).build())
                .setCreatedAt(Instant.EPOCH).build();
    }

    /** An id written as a string or a number. */
    private static String id(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !(v.isTextual() || v.isIntegralNumber()) || v.asText().isBlank()) {
            throw new IllegalArgumentException(field + " is missing or not a non-empty string");
        }
        return v.asText();
    }

    /** A content hash as the id of a record that has none: the same example always gets the same id. */
    static String hash(List<String> prompt, String human) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (String s : prompt) {
                sha.update(s.getBytes(StandardCharsets.UTF_8));
                sha.update((byte) 0);
            }
            if (human != null) { // unlabelled: the prompt alone names it
                sha.update((byte) 1);
                sha.update(human.getBytes(StandardCharsets.UTF_8));
            }
            return "h" + HexFormat.of().formatHex(sha.digest()).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String text(JsonNode n, String field) {
        return text(n, field, false);
    }

    private static String text(JsonNode n, String field, boolean mayBeEmpty) {
        JsonNode v = n.get(field);
        if (v == null || !v.isTextual() || (v.asText().isBlank() && !mayBeEmpty)) {
            throw new IllegalArgumentException(field + " is missing or not a " + (mayBeEmpty ? "" : "non-empty ") + "string");
        }
        return v.asText();
    }
}
