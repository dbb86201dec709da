package io.spinstream.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/**
 * A model's own chat template: the Jinja {@code chat_template} of its {@code tokenizer_config.json},
 * rendered by a real Jinja engine (jinjava) the way Hugging Face's {@code apply_chat_template} does:
 * {@code messages}, {@code add_generation_prompt}, {@code bos_token}, {@code eos_token} and
 * {@code raise_exception}, with trim_blocks and lstrip_blocks.
 */
public final class ChatTemplate {
    public static final String TOKENIZER_CONFIG = "tokenizer_config.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String template;
    private final String bosToken;
    private final String eosToken;
    private final Jinjava jinjava;

    public ChatTemplate(String template, String bosToken, String eosToken) {
        this.template = JinjaSyntax.apply(template);
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
        // Python's str methods first, then jinjava's own resolvers.
        jinjava.javax.el.CompositeELResolver resolvers = new jinjava.javax.el.CompositeELResolver();
        resolvers.add(new PythonStringMethods());
        resolvers.add(JinjavaConfig.newBuilder().build().getElResolver());
        this.jinjava = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true)
                .withElResolver(resolvers).build());
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class,
                "raiseException", String.class));
        // transformers gives templates strftime_now (Llama 3.2 writes today's date with it)
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "strftime_now", ChatTemplate.class,
                "strftimeNow", String.class));
    }

    /** The template of {@code tokenizer_config.json} in {@code folder}; empty when the file or its chat_template is absent. */
    public static Optional<ChatTemplate> in(Path folder) {
        Path file = folder.resolve(TOKENIZER_CONFIG);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try {
            JsonNode n = JSON.readTree(file.toFile());
            JsonNode t = n.path("chat_template");
            String text = null;
            if (t.isTextual()) {
                text = t.asText();
            } else if (t.isArray()) { // named templates: the "default" one, else the first
                for (JsonNode named : t) {
                    if (text == null || named.path("name").asText().equals("default")) {
                        text = named.path("template").asText(null);
                    }
                }
            }
            return text == null || text.isBlank() ? Optional.empty()
                    : Optional.of(new ChatTemplate(text, token(n.get("bos_token")), token(n.get("eos_token"))));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** A special token as tokenizer_config.json writes it: a string, or an AddedToken object with its content. */
    static String token(JsonNode n) {
        if (n == null || n.isNull()) {
            return null;
        }
        return n.isTextual() ? n.asText() : n.path("content").asText(null);
    }

    public String eosToken() {
        return eosToken;
    }

    public String bosToken() {
        return bosToken;
    }

    /** The conversation as the model was trained to see it; with {@code addGenerationPrompt}, up to its answer. */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        Map<String, Object> context = new HashMap<>();
        context.put("messages", messages.stream().map(m -> {
            Map<String, Object> turn = new LinkedHashMap<>();
            turn.put("role", m.role());
            turn.put("content", m.content());
            return turn;
        }).toList());
        context.put("add_generation_prompt", addGenerationPrompt);
        context.put("bos_token", bosToken);
        context.put("eos_token", eosToken);
        context.put("strftime_now", true); // so that "strftime_now is defined" holds, as it does in transformers
        RenderResult r = jinjava.renderForResult(template, context);
        for (TemplateError e : r.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                String message = e.getMessage();
                for (Throwable c = e.getException(); c != null; c = c.getCause()) {
                    if (c instanceof TemplateRaised raised) {
                        message = raised.getMessage();
                    }
                }
                throw new IllegalArgumentException("the chat template refused the conversation: " + message);
            }
        }
        return r.getOutput();
    }

    /** The template's {@code strftime_now(format)}: today, formatted as Python's strftime does in the C locale. */
    public static String strftimeNow(String format) {
        return strftime(LocalDateTime.now(), format);
    }

    static String strftime(LocalDateTime t, String format) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 == format.length()) {
                out.append(c);
                continue;
            }
            char f = format.charAt(++i);
            String pattern = switch (f) {
                case 'd' -> "dd";
                case 'b' -> "MMM";
                case 'B' -> "MMMM";
                case 'Y' -> "yyyy";
                case 'y' -> "yy";
                case 'm' -> "MM";
                case 'H' -> "HH";
                case 'M' -> "mm";
                case 'S' -> "ss";
                case 'a' -> "EEE";
                case 'A' -> "EEEE";
                default -> null;
            };
            if (pattern != null) {
                out.append(DateTimeFormatter.ofPattern(pattern, Locale.ROOT).format(t));
            } else if (f == '%') {
                out.append('%');
            } else {
                throw new IllegalArgumentException("strftime_now: format %" + f + " is not supported");
            }
        }
        return out.toString();
    }

    /** The template's {@code raise_exception(message)}. */
    public static String raiseException(String message) {
        throw new TemplateRaised(message);
    }

    private static final class TemplateRaised extends RuntimeException {
        TemplateRaised(String message) {
            super(message);
        }
    }
}
