package io.spinstream.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.el.JinjavaNodePreProcessor;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.Map;
import java.util.Optional;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A model's own chat template: the Jinja {@code chat_template} of its {@code tokenizer_config.json},
 * rendered by a real Jinja engine (jinjava) the way Hugging Face's {@code apply_chat_template} does:
 * {@code messages}, {@code add_generation_prompt}, {@code bos_token}, {@code eos_token} and
 * {@code raise_exception}, with trim_blocks and lstrip_blocks.
 */
public final class ChatTemplate {
    public static final String TOKENIZER_CONFIG = "tokenizer_config.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The longest output (and string) a render may make, in characters. */
    static final long MAX_OUTPUT_CHARS = 8L << 20;
    /** The most items a list, map or range of a render may hold. */
    static final int MAX_LIST_SIZE = 100_000;
    /** The longest a render may take: real templates take milliseconds. */
    static final Duration RENDER_TIME_LIMIT = Duration.ofSeconds(2);

    private static final Set<TemplateError.ErrorReason> REFUSING = EnumSet.of(
            TemplateError.ErrorReason.EXCEPTION, TemplateError.ErrorReason.OUTPUT_TOO_BIG,
            TemplateError.ErrorReason.OVER_LIMIT, TemplateError.ErrorReason.COLLECTION_TOO_BIG);

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
        // Bounds on what a template from the internet may make (a chat template renders one conversation: a few
        // hundred kilobytes at the longest contexts), and a check for the interrupt that ends a render past its time.
        this.jinjava = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true)
                .withElResolver(resolvers).withMaxOutputSize(MAX_OUTPUT_CHARS).withMaxStringLength(MAX_OUTPUT_CHARS)
                .withMaxListSize(MAX_LIST_SIZE).withMaxMapSize(MAX_LIST_SIZE).withRangeLimit(MAX_LIST_SIZE)
                .withMaxRenderDepth(10).withMaxMacroRecursionDepth(20)
                .withNodePreProcessor(new JinjavaNodePreProcessor()).build());
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
        RenderResult r = renderBounded(context);
        for (TemplateError e : r.getErrors()) {
            // Fatal errors, and the warnings the engine gives where Python's Jinja would raise: a failed call (a
            // macro's recursion limit among them) and a limit reached. Undefined names stay silent, as in Jinja.
            if (e.getSeverity() == TemplateError.ErrorType.FATAL || REFUSING.contains(e.getReason())) {
                throw new Refusal(e.getException() == null ? e.getMessage() : messageOf(e.getException(), e.getMessage()));
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

    /**
     * The render on a thread of its own, given {@link #RENDER_TIME_LIMIT}: past it the thread is interrupted (the
     * engine checks at every node, so loops end) and the conversation refused. What the engine throws instead of
     * reporting, errors included (a stack overflow of a recursive macro), is the conversation's refusal too.
     */
    private RenderResult renderBounded(Map<String, Object> context) {
        FutureTask<RenderResult> task = new FutureTask<>(() -> jinjava.renderForResult(template, context));
        Thread.ofVirtual().name("chat-template").start(task);
        try {
            return task.get(RENDER_TIME_LIMIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            task.cancel(true);
            throw new Refusal("rendering took longer than " + RENDER_TIME_LIMIT.toMillis() + " ms");
        } catch (ExecutionException e) {
            throw new Refusal(e.getCause() instanceof StackOverflowError ? "the render recursed too deep"
                    : e.getCause() instanceof OutOfMemoryError ? "the render ran out of memory" : messageOf(e.getCause()));
        } catch (InterruptedException e) {
            task.cancel(true);
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while a chat template rendered", e);
        }
    }

    /** The template's raise_exception message where one raised it, else the engine's. */
    private static String messageOf(Throwable e) {
        return messageOf(e, String.valueOf(e.getMessage()));
    }

    private static String messageOf(Throwable e, String otherwise) {
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof TemplateRaised raised) {
                return raised.getMessage();
            }
        }
        return otherwise;
    }

    /**
     * The template would not render this conversation: its own {@code raise_exception} (Mistral's templates refuse
     * roles that do not alternate) or an error of the engine. A property of the conversation, never a transient
     * fault: a service dead-letters the record, a server answers 400.
     */
    public static final class Refusal extends IllegalArgumentException {
        public Refusal(String message) {
            super("the chat template refused the conversation: " + message);
        }
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
