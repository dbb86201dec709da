package io.spinstream.model.tokenizer;

/**
 * Applies Jinja's whitespace control ({@code {{-}, {@code -}}}, {@code {%-}, {@code -%}}, {@code {#-}, {@code -#}})
 * to a template's text before jinjava parses it: jinjava 2.8 keeps the whitespace in front of {@code {{-}, so a
 * template indented over many lines (Qwen2.5's, Llama 3.1's) rendered with its indentation between the turns. A
 * minus after an opening delimiter removes all whitespace (new lines included) before the tag; one before a closing
 * delimiter removes all whitespace after it. Tag contents, string literals included, are copied unchanged.
 */
final class JinjaWhitespace {
    private JinjaWhitespace() {
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
            // Copy the tag's contents up to its closing delimiter, skipping over string literals.
            char quote = 0;
            while (i < n) {
                char c = template.charAt(i);
                if (close == '#') {
                    if (c == '-' && template.startsWith("#}", i + 1)) {
                        out.append("#}");
                        i = skipWhitespace(template, i + 3);
                        break;
                    }
                    if (c == '#' && i + 1 < n && template.charAt(i + 1) == '}') {
                        out.append("#}");
                        i += 2;
                        break;
                    }
                    out.append(c);
                    i++;
                    continue;
                }
                if (quote != 0) {
                    out.append(c);
                    if (c == '\\' && i + 1 < n) {
                        out.append(template.charAt(i + 1));
                        i += 2;
                        continue;
                    }
                    if (c == quote) {
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
                if (c == '-' && i + 2 < n && template.charAt(i + 1) == close && template.charAt(i + 2) == '}') {
                    out.append(close).append('}');
                    i = skipWhitespace(template, i + 3);
                    break;
                }
                if (c == close && i + 1 < n && template.charAt(i + 1) == '}') {
                    out.append(close).append('}');
                    i += 2;
                    break;
                }
                out.append(c);
                i++;
            }
        }
        return out.toString();
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
