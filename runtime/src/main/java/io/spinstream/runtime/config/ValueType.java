package io.spinstream.runtime.config;

import java.net.URI;
import java.util.regex.Pattern;
import java.time.Duration;
import java.util.regex.Matcher;

/**
 * How a config value is written and read. {@link #expected()} is the form shown in errors, so that a bad
 * value is reported as "expected ..., got ...".
 */
public interface ValueType<T> {

    T parse(String raw);

    String expected();

    static <T> ValueType<T> of(String expected, java.util.function.Function<String, T> parser) {
        return new ValueType<>() {
            @Override
            public T parse(String raw) {
                return parser.apply(raw.trim());
            }

            @Override
            public String expected() {
                return expected;
            }
        };
    }

    /** One of the given words, as written. */
    static ValueType<String> oneOf(String... choices) {
        java.util.List<String> allowed = java.util.List.of(choices);
        String expected = allowed.size() == 2 ? choices[0] + " or " + choices[1]
                : String.join(", ", allowed.subList(0, allowed.size() - 1)) + " or " + choices[choices.length - 1];
        return of(expected, s -> {
            if (!allowed.contains(s)) {
                throw new IllegalArgumentException(s);
            }
            return s;
        });
    }

    ValueType<String> TEXT = of("a non-empty string", s -> {
        if (s.isEmpty()) {
            throw new IllegalArgumentException("empty");
        }
        return s;
    });

    /** A duration as 90s, 10m, 2h or 500ms. */
    ValueType<Duration> DURATION = of("a duration such as 500ms, 90s, 10m or 2h", s -> {
        Matcher m = Pattern.compile("(\\d{1,9})(ms|s|m|h)").matcher(s.trim());
        if (!m.matches() || Long.parseLong(m.group(1)) == 0) {
            throw new IllegalArgumentException(s);
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            default -> Duration.ofHours(n);
        };
    });

    ValueType<Integer> POSITIVE_INT = of("a whole number >= 1", s -> {
        int v = Integer.parseInt(s);
        if (v < 1) {
            throw new IllegalArgumentException("below 1");
        }
        return v;
    });

    ValueType<Long> POSITIVE_LONG = of("a whole number >= 1", s -> {
        long v = Long.parseLong(s);
        if (v < 1) {
            throw new IllegalArgumentException("below 1");
        }
        return v;
    });

    ValueType<Integer> PORT = of("a port number from 0 to 65535", s -> {
        int v = Integer.parseInt(s);
        if (v < 0 || v > 65535) {
            throw new IllegalArgumentException("out of range");
        }
        return v;
    });

    ValueType<Integer> NON_NEGATIVE_INT = of("a whole number >= 0", s -> {
        int v = Integer.parseInt(s);
        if (v < 0) {
            throw new IllegalArgumentException("below 0");
        }
        return v;
    });

    ValueType<Double> NUMBER = of("a finite decimal number", s -> finite(s));

    ValueType<Double> POSITIVE_NUMBER = of("a number above 0", s -> {
        double v = finite(s);
        if (!(v > 0)) {
            throw new IllegalArgumentException("not above 0");
        }
        return v;
    });

    ValueType<Double> NON_NEGATIVE_NUMBER = of("a number >= 0", s -> {
        double v = finite(s);
        if (v < 0) {
            throw new IllegalArgumentException("below 0");
        }
        return v;
    });

    /** A multiplier that shrinks: above 0, at most 1. */
    ValueType<Double> FACTOR = of("a number above 0 and at most 1", s -> {
        double v = finite(s);
        if (!(v > 0 && v <= 1)) {
            throw new IllegalArgumentException("out of range");
        }
        return v;
    });

    /** NaN and the infinities parse as doubles; no setting means them. */
    private static double finite(String s) {
        double v = Double.parseDouble(s);
        if (!Double.isFinite(v)) {
            throw new IllegalArgumentException("not finite");
        }
        return v;
    }

    ValueType<Double> FRACTION = of("a number from 0 to 1", s -> {
        double v = finite(s);
        if (!(v >= 0 && v <= 1)) {
            throw new IllegalArgumentException("out of range");
        }
        return v;
    });

    ValueType<Boolean> BOOLEAN = of("true or false", s -> switch (s.toLowerCase()) {
        case "true" -> true;
        case "false" -> false;
        default -> throw new IllegalArgumentException("not a boolean");
    });

    ValueType<String> HOST_PORTS = of("host:port[,host:port...]", s -> {
        Pattern hostPort = Pattern.compile("[A-Za-z0-9._\\-\\[\\]:]+:\\d{1,5}");
        for (String part : s.split(",")) {
            if (!hostPort.matcher(part.trim()).matches()) {
                throw new IllegalArgumentException("not host:port: " + part);
            }
        }
        return s;
    });

    ValueType<String> HTTP_URL = of("an http:// or https:// URL, e.g. http://registry:8080", s -> {
        URI uri = URI.create(s);
        if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null) {
            throw new IllegalArgumentException("not an http(s) URL");
        }
        return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
    });

    ValueType<java.nio.file.Path> READABLE_FILE = of("the path of a readable file", s -> {
        java.nio.file.Path p = java.nio.file.Path.of(s);
        if (!java.nio.file.Files.isRegularFile(p) || !java.nio.file.Files.isReadable(p)) {
            throw new IllegalArgumentException("no readable file at " + s);
        }
        return p;
    });

    ValueType<String> TOPIC_PREFIX = of("letters, digits, '_' or '-' in dot-separated parts, e.g. spin or team.spin",
            s -> {
                if (!s.matches("[a-zA-Z0-9_-]+(\\.[a-zA-Z0-9_-]+)*") || s.length() > 150) {
                    throw new IllegalArgumentException("not a topic prefix");
                }
                return s;
            });
}
