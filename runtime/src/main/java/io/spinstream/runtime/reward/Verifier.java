package io.spinstream.runtime.reward;

import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.TaskMetadata;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A reward of 1 or 0 for an answer, from how the prompt's task metadata says it is checked:
 * {@code attributes.verify} = {@code exact} (the normalised answer equals the expected one), {@code numeric}
 * (the answer's last number is within {@code attributes.tolerance}, default 0, of the expected number) or
 * {@code regex} (the normalised answer matches {@code attributes.pattern} whole). Without {@code verify},
 * a task marked verifiable is checked exactly. The expected answer is {@code attributes.answer}, else the
 * human response; a prompt with neither, or not verifiable, has no verifier.
 */
public sealed interface Verifier {
    Pattern NUMBER = Pattern.compile("-?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?");

    double reward(String answer);

    record Exact(String expected) implements Verifier {
        @Override
        public double reward(String answer) {
            return Answers.normalise(answer).equals(Answers.normalise(expected)) ? 1.0 : 0.0;
        }
    }

    record Numeric(double expected, double tolerance) implements Verifier {
        @Override
        public double reward(String answer) {
            Matcher m = NUMBER.matcher(answer);
            String last = null;
            while (m.find()) {
                last = m.group();
            }
            return last != null && Math.abs(Double.parseDouble(last) - expected) <= tolerance ? 1.0 : 0.0;
        }
    }

    record Regex(Pattern pattern) implements Verifier {
        @Override
        public double reward(String answer) {
            return pattern.matcher(Answers.normalise(answer)).matches() ? 1.0 : 0.0;
        }
    }

    /**
     * The prompt's verifier, if its metadata gives one.
     *
     * @throws IllegalArgumentException a malformed verify, tolerance, pattern or expected number, naming it
     *                                  (the record belongs to the dead letters, not to training)
     */
    static Optional<Verifier> of(Prompt p) {
        TaskMetadata task = p.getTask();
        if (task == null) {
            return Optional.empty();
        }
        var attributes = task.getAttributes();
        String verify = attributes.get("verify");
        if (verify == null) {
            if (!task.getVerifiable()) {
                return Optional.empty();
            }
            verify = "exact";
        }
        String expected = attributes.getOrDefault("answer", p.getHumanResponse());
        switch (verify) {
            case "exact" -> {
                return expected == null || expected.isBlank() ? Optional.empty() : Optional.of(new Exact(expected));
            }
            case "numeric" -> {
                if (expected == null || expected.isBlank()) {
                    return Optional.empty();
                }
                Matcher m = NUMBER.matcher(expected.trim());
                if (!m.matches()) {
                    throw new IllegalArgumentException("task.attributes.answer (or the human response) '" + expected
                            + "' is not a number, as verify=numeric needs");
                }
                double tolerance;
                try {
                    tolerance = Double.parseDouble(attributes.getOrDefault("tolerance", "0"));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("task.attributes.tolerance '" + attributes.get("tolerance") + "' is not a number");
                }
                if (!(tolerance >= 0)) {
                    throw new IllegalArgumentException("task.attributes.tolerance must be >= 0, got " + tolerance);
                }
                return Optional.of(new Numeric(Double.parseDouble(expected.trim()), tolerance));
            }
            case "regex" -> {
                String pattern = attributes.get("pattern");
                if (pattern == null) {
                    throw new IllegalArgumentException("task.attributes.pattern is missing: verify=regex needs one");
                }
                try {
                    return Optional.of(new Regex(Pattern.compile(pattern)));
                } catch (PatternSyntaxException e) {
                    throw new IllegalArgumentException("task.attributes.pattern is not a regular expression: " + e.getDescription());
                }
            }
            default -> throw new IllegalArgumentException("task.attributes.verify is '" + verify + "': expected exact, numeric or regex");
        }
    }
}
