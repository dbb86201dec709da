package io.spinstream.demo;

import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.TaskMetadata;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The demo's verifiable task: {@code digits}-digit addition written as {@code "472+815="} with the sum's
 * digits as the human answer ({@code "1287"}), most significant first (the harder order for a left-to-right
 * decoder, which is what keeps a small model below 100% even on its own training prompts). Generated
 * deterministically from {@code seed}: the same arguments always give the same prompts and ids.
 *
 * @param prompts    prompts published on the stream (the services' held-out split applies to them)
 * @param validation extra prompts, never published, that only the base's early stopping looks at
 */
public record ArithmeticTask(int digits, int prompts, int validation, long seed, boolean reversed) {

    public ArithmeticTask {
        if (digits < 1 || digits > 9) {
            throw new IllegalArgumentException("digits must be 1..9, was " + digits);
        }
        long space = (long) Math.pow(10, 2 * digits);
        if (prompts < 1 || validation < 0 || prompts + validation > space / 2) {
            throw new IllegalArgumentException("cannot draw " + prompts + " + " + validation + " distinct " + digits
                    + "-digit problems");
        }
    }

    /** One problem: its stable id, the prompt text and the exact answer. */
    public record Example(String id, String prompt, String answer) {
    }

    /** The kind written into every prompt's task metadata. */
    public String kind() {
        return "addition-" + digits;
    }

    /** The published problems, in id order. */
    public List<Example> examples() {
        return draw().subList(0, prompts);
    }

    /** The validation problems: disjoint from the published ones (by operands, not only by id). */
    public List<Example> validationExamples() {
        return draw().subList(prompts, prompts + validation);
    }

    private List<Example> draw() {
        SplittableRandom random = new SplittableRandom(seed);
        long bound = (long) Math.pow(10, digits);
        Set<Long> seen = new HashSet<>();
        List<Example> out = new ArrayList<>(prompts + validation);
        while (out.size() < prompts + validation) {
            long a = random.nextLong(bound);
            long b = random.nextLong(bound);
            if (!seen.add(a * bound + b)) {
                continue;
            }
            int i = out.size();
            String id = (i < prompts ? "add" : "val") + digits + "-" + seed + "-" + (i < prompts ? i : i - prompts);
            out.add(reversed
                    ? new Example(id, rev(a) + "+" + rev(b) + "=", rev(a + b))
                    : new Example(id, a + "+" + b + "=", Long.toString(a + b)));
        }
        return out;
    }

    private static String rev(long n) {
        return new StringBuilder(Long.toString(n)).reverse().toString();
    }

    /**
     * The example as a prompt record of {@code stream}: verifiable, so the exact-match suite scores it; a reversed
     * task says {@code digit_order = lsb} (least significant digit first), for whatever writes new problems.
     */
    public Prompt toPrompt(String stream, Example e) {
        return Prompt.newBuilder().setPromptId(e.id()).setStream(stream).setPrompt(e.prompt())
                .setHumanResponse(e.answer())
                .setTask(TaskMetadata.newBuilder().setKind(kind()).setVerifiable(true).setSuites(List.of())
                        .setAttributes(reversed ? Map.of("digits", Integer.toString(digits), "digit_order", "lsb")
                                : Map.of("digits", Integer.toString(digits))).build())
                .setCreatedAt(Instant.EPOCH).build();
    }

    /** Longest answer in tokens with a byte-level tokenizer, EOS included. */
    public int maxAnswerTokens() {
        return digits + 2;
    }
}
