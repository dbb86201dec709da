package io.spinstream.lion.roles;

import io.spinstream.runtime.http.JsonEndpoint;
import io.spinstream.runtime.openai.OpenAiClient;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.TaskMetadata;

import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Lion's generator G: writes a new prompt from one the student found hard (or easy). */
public sealed interface PromptWriter {

    /**
     * @param id   the new prompt's id
     * @param seed where the writer draws at random, its draws (same seed, same prompt where it can)
     * @throws JsonEndpoint.Refused      the writer cannot write from this prompt: the source's dead letter
     * @throws JsonEndpoint.Unavailable the writer could not be reached: transient
     */
    Prompt write(Prompt source, boolean hard, String id, long seed);

    String describe();

    /** A new prompt of the same task as {@code source}: its metadata kept, its human answer the one given (or none). */
    static Prompt derived(Prompt source, String id, String text, String answer) {
        TaskMetadata task = source.getTask();
        Map<String, String> attributes = new HashMap<>(task.getAttributes());
        attributes.put("lion_source", source.getPromptId());
        attributes.remove("answer");
        return Prompt.newBuilder().setPromptId(id).setStream(source.getStream()).setPrompt(text).setHumanResponse(answer)
                .setTask(TaskMetadata.newBuilder(task).setAttributes(attributes).build())
                .setCreatedAt(Instant.EPOCH).build();
    }

    /**
     * A model behind an OpenAI-compatible chat endpoint, with Lion's templates: a hard prompt begets one of the
     * same domain, task type, length and difficulty; an easy one a rarer prompt of the same domain.
     */
    record ByModel(OpenAiClient server, String model, double temperature, int maxTokens) implements PromptWriter {
        /** Lion's instruction-creator prompt; only what the new instruction should be differs between hard and easy. */
        private static String template(String aim) {
            return """
                    You are a helpful assistant.
                    I want you to act as an Instruction Creator.
                    Your goal is to draw inspiration from the #Given Instruction# to create a brand new instruction.
                    %s
                    The LENGTH and difficulty level of the #Created Instruction# should be similar to that of the #Given Instruction#.
                    The #Created Instruction# must be reasonable and must be understood and responded by humans.
                    '#Given Instruction#', '#Created Instruction#', 'given instruction' and 'created instruction' are not allowed \
                    to appear in #Created Instruction#.
                    #Given Instruction#:
                    %%s
                    #Created Instruction#:
                    """.formatted(aim);
        }

        public static final String HARD = template(
                "This new instruction should belong to the same domain and the same task type as the #Given Instruction#.");
        public static final String EASY = template(
                "This new instruction should belong to the same domain as the #Given Instruction# but be even more rare.");

        @Override
        public Prompt write(Prompt source, boolean hard, String id, long seed) {
            var req = OpenAiClient.request().put("model", model).put("temperature", temperature).put("max_tokens", maxTokens)
                    .put("seed", seed);
            req.putArray("messages").addObject().put("role", "user")
                    .put("content", (hard ? HARD : EASY).formatted(source.getPrompt()));
            String text = server.chat(req).strip();
            if (text.isEmpty()) {
                throw new JsonEndpoint.Refused("the prompt writer " + model + " wrote an empty prompt from " + source.getPromptId());
            }
            return derived(source, id, text, null);
        }

        @Override
        public String describe() {
            return model + " at " + server.base();
        }
    }

    /**
     * For the demo's addition task, where a local model cannot follow instructions: a new problem near the given
     * one, with as many digits in each operand and the same carries, column by column (which is what makes an
     * addition hard for a small model), and its exact answer. A prompt whose task says {@code digit_order = lsb}
     * writes numbers least significant digit first.
     */
    record Arithmetic() implements PromptWriter {
        static final Pattern SUM = Pattern.compile("(\\d+)\\+(\\d+)=");

        @Override
        public Prompt write(Prompt source, boolean hard, String id, long seed) {
            Matcher m = SUM.matcher(source.getPrompt().strip());
            if (!m.matches()) {
                throw new JsonEndpoint.Refused("the arithmetic prompt writer takes prompts written a+b=, got '" + source.getPrompt() + "'");
            }
            boolean lsb = "lsb".equals(source.getTask().getAttributes().get("digit_order"));
            // Digits least significant first, whatever the prompt's order.
            String a = lsb ? m.group(1) : reverse(m.group(1));
            String b = lsb ? m.group(2) : reverse(m.group(2));
            int columns = Math.max(a.length(), b.length());
            SplittableRandom random = new SplittableRandom(seed);
            StringBuilder x = new StringBuilder();
            StringBuilder y = new StringBuilder();
            int carry = 0;
            for (int i = 0; i < columns; i++) {
                int da = digit(a, i);
                int db = digit(b, i);
                boolean carries = da + db + carry >= 10;
                boolean hasA = i < a.length();
                boolean hasB = i < b.length();
                // Draw the column's digits among those that keep its carry; the original's are one such pair.
                int pa;
                int pb;
                int tries = 0;
                do {
                    if (++tries > 1000) {
                        throw new JsonEndpoint.Refused("no digits keep column " + i + "'s carry in '" + source.getPrompt() + "'");
                    }
                    pa = hasA ? random.nextInt(lowest(a, i), 10) : 0;
                    pb = hasB ? random.nextInt(lowest(b, i), 10) : 0;
                } while (pa + pb + carry >= 10 != carries);
                if (hasA) {
                    x.append(pa);
                }
                if (hasB) {
                    y.append(pb);
                }
                carry = carries ? 1 : 0;
            }
            long sum = Long.parseLong(reverse(x.toString())) + Long.parseLong(reverse(y.toString()));
            String answer = lsb ? reverse(Long.toString(sum)) : Long.toString(sum);
            String text = lsb ? x + "+" + y + "=" : reverse(x.toString()) + "+" + reverse(y.toString()) + "=";
            return derived(source, id, text, answer);
        }

        /** The most significant digit of a number of more than one digit is not 0. */
        private static int lowest(String lsbDigits, int i) {
            return i == lsbDigits.length() - 1 && lsbDigits.length() > 1 ? 1 : 0;
        }

        private static int digit(String lsbDigits, int i) {
            return i < lsbDigits.length() ? lsbDigits.charAt(i) - '0' : 0;
        }

        private static String reverse(String s) {
            return new StringBuilder(s).reverse().toString();
        }

        @Override
        public String describe() {
            return "arithmetic (same digits and carries)";
        }
    }
}
