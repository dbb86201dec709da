package io.spinstream.model.tokenizer;

import java.util.ArrayDeque;

/**
 * Rewrites a template's Jinja where jinjava 2.8 reads it otherwise, before jinjava parses it, keeping its meaning:
 * <ul>
 *   <li>whitespace control ({@code {{-}, {@code -}}}, {@code {%-}, {@code -%}}, {@code {#-}, {@code -#}}): jinjava
 *   keeps the whitespace in front of {@code {{-}, so a template indented over many lines (Qwen2.5's, Llama 3.2's)
 *   rendered with its indentation between the turns. A minus after an opening delimiter removes all whitespace
 *   (new lines included) before the tag; one before a closing delimiter removes all whitespace after it;</li>
 *   <li>a reversed slice {@code x[::-1]} (Qwen3's {@code messages[::-1]}), which jinjava cannot parse, becomes
 *   {@code x|reverse};</li>
 *   <li>a named argument's value is parenthesised ({@code namespace(i=messages|length - 1)}), which jinjava would
 *   otherwise split at the filter.</li>
 * </ul>
 * String literals are copied unchanged.
 */
final class JinjaSyntax {
    private JinjaSyntax() {
    }

    static String apply(String template) {
        StringBuilder out = new StringBuilder(template.length());
        int i = 0;
        int n = template.length();
        while (i < n) {
            char close = closingOf(template, i);
            if (close == 0) {
                out.append(template.charAt(i++));
                continue;
            }
            // An opening delimiter: {{, {% or {#.
            out.append(template, i, i + 2);
            i += 2;
            if (i < n && template.charAt(i) == '-') {
                trimTrailing(out, 2);
                i++;
            }
            StringBuilder tag = new StringBuilder();
            char quote = 0;
            boolean closed = false;
            while (i < n && !closed) {
                char c = template.charAt(i);
                if (quote != 0 && close != '#') {
                    tag.append(c);
                    if (c == '\\' && i + 1 < n) {
                        tag.append(template.charAt(i + 1));
                        i += 2;
                        continue;
                    }
                    if (c == quote) {
                        quote = 0;
                    }
                    i++;
                    continue;
                }
                if ((c == '\'' || c == '"') && close != '#') {
                    quote = c;
                    tag.append(c);
                    i++;
                    continue;
                }
                if (c == '-' && i + 2 < n && template.charAt(i + 1) == close && template.charAt(i + 2) == '}') {
                    i = skipWhitespace(template, i + 3);
                    closed = true;
                } else if (c == close && i + 1 < n && template.charAt(i + 1) == '}') {
                    i += 2;
                    closed = true;
                } else {
                    tag.append(c);
                    i++;
                }
            }
            out.append(close == '#' ? tag : rewrite(tag.toString()));
            if (closed) {
                out.append(close).append('}');
            }
        }
        return out.toString();
    }

    /** A tag's contents with reversed slices and named arguments rewritten, string literals untouched. */
    static String rewrite(String tag) {
        StringBuilder out = new StringBuilder(tag.length());
        // Per open parenthesis: whether a named argument's value is open (and needs its ')' before ',' or ')').
        ArrayDeque<boolean[]> parens = new ArrayDeque<>();
        char quote = 0;
        int i = 0;
        while (i < tag.length()) {
            char c = tag.charAt(i);
            if (quote != 0) {
                out.append(c);
                if (c == '\\' && i + 1 < tag.length()) {
                    out.append(tag.charAt(++i));
                } else if (c == quote) {
                    quote = 0;
                }
                i++;
                continue;
            }
            if (c == '\'' || c == '"') {
                quote = c;
                out.append(c);
                i++;
                continue;
            }
            if (tag.startsWith("[::-1]", i)) {
                out.append("|reverse");
                i += 6;
                continue;
            }
            if (c == '(') {
                parens.push(new boolean[1]);
                out.append(c);
                i++;
                continue;
            }
            if ((c == ',' || c == ')') && !parens.isEmpty() && parens.peek()[0]) {
                out.append(')');
                parens.peek()[0] = false;
            }
            if (c == ')' && !parens.isEmpty()) {
                parens.pop();
            }
            if (Character.isJavaIdentifierStart(c) && !parens.isEmpty() && !parens.peek()[0] && startsArgument(out)) {
                int end = i;
                while (end < tag.length() && Character.isJavaIdentifierPart(tag.charAt(end))) {
                    end++;
                }
                int eq = end;
                while (eq < tag.length() && tag.charAt(eq) == ' ') {
                    eq++;
                }
                if (eq < tag.length() && tag.charAt(eq) == '=' && (eq + 1 >= tag.length() || tag.charAt(eq + 1) != '=')) {
                    out.append(tag, i, eq + 1).append('(');
                    parens.peek()[0] = true;
                    i = eq + 1;
                    continue;
                }
                out.append(tag, i, end);
                i = end;
                continue;
            }
            out.append(c);
            i++;
        }
        return out.toString();
    }

    /** Whether what was written so far ends an argument list's opening or a comma (spaces aside). */
    private static boolean startsArgument(StringBuilder out) {
        int k = out.length() - 1;
        while (k >= 0 && out.charAt(k) == ' ') {
            k--;
        }
        return k >= 0 && (out.charAt(k) == '(' || out.charAt(k) == ',');
    }

    /** '}' for "{{", '%' for "{%", '#' for "{#" at {@code i}; 0 where no tag opens. */
    private static char closingOf(String t, int i) {
        if (t.charAt(i) != '{' || i + 1 >= t.length()) {
            return 0;
        }
        return switch (t.charAt(i + 1)) {
            case '{' -> '}';
            case '%' -> '%';
            case '#' -> '#';
            default -> 0;
        };
    }

    /** Removes the whitespace before the last {@code keep} characters (the delimiter just written). */
    private static void trimTrailing(StringBuilder out, int keep) {
        int end = out.length() - keep;
        int start = end;
        while (start > 0 && Character.isWhitespace(out.charAt(start - 1))) {
            start--;
        }
        out.delete(start, end);
    }

    private static int skipWhitespace(String t, int i) {
        while (i < t.length() && Character.isWhitespace(t.charAt(i))) {
            i++;
        }
        return i;
    }
}
