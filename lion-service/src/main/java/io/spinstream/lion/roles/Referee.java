package io.spinstream.lion.roles;

import io.spinstream.runtime.http.JsonEndpoint;
import io.spinstream.runtime.openai.OpenAiClient;
import io.spinstream.runtime.reward.Verifier;
import io.spinstream.schemas.Prompt;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Scores the teacher's and the student's answers to a prompt. */
public sealed interface Referee {

    /**
     * @throws JsonEndpoint.Refused      the prompt cannot be judged (no verifier; a model that would not score): its dead letter
     * @throws JsonEndpoint.Unavailable the referee could not be reached: transient
     */
    Judgement judge(Prompt prompt, String teacherAnswer, String studentAnswer);

    String describe();

    /**
     * For verifiable tasks: the prompt's verifier, on the paper's scale: 10 for a correct answer, 1 for a wrong
     * one, so that a prompt is hard (with tau = 1) exactly when the teacher is right and the student wrong.
     */
    record ByVerifier() implements Referee {
        @Override
        public Judgement judge(Prompt prompt, String teacherAnswer, String studentAnswer) {
            Verifier v;
            try {
                v = Verifier.of(prompt).orElseThrow(() -> new JsonEndpoint.Refused("prompt " + prompt.getPromptId()
                        + " has no verifier (its task is not verifiable, or it has no expected answer): the verifier cannot referee it"));
            } catch (IllegalArgumentException e) {
                throw new JsonEndpoint.Refused(e.getMessage());
            }
            return new Judgement(1 + 9 * v.reward(teacherAnswer), 1 + 9 * v.reward(studentAnswer));
        }

        @Override
        public String describe() {
            return "verifier";
        }
    }

    /**
     * A model behind an OpenAI-compatible chat endpoint, with the review template Lion uses (from Vicuna's
     * evaluation): both answers in one request, two scores on the first line. It is asked in both orders and the
     * scores averaged, since a judge tends to favour one position.
     */
    record ByModel(OpenAiClient server, String model) implements Referee {
        static final Pattern TWO_SCORES = Pattern.compile("^\\s*(\\d+(?:\\.\\d+)?)[\\s,/]+(\\d+(?:\\.\\d+)?)");

        public static final String TEMPLATE = """
                [Question]
                %s

                [The Start of Assistant 1's Answer]
                %s

                [The End of Assistant 1's Answer]

                [The Start of Assistant 2's Answer]
                %s

                [The End of Assistant 2's Answer]

                [System]
                We would like to request your feedback on the performance of two AI assistants in response to the user \
                question displayed above.
                Please rate the helpfulness, relevance, accuracy, level of details of their responses. Each assistant \
                receives an overall score on a scale of 1 to 10, where a higher score indicates better overall performance.
                Please first output a single line containing only two values indicating the scores for Assistant 1 and 2, \
                respectively. The two scores are separated by a space. In the subsequent line, please provide a \
                comprehensive explanation of your evaluation, avoiding any potential bias and ensuring that the order in \
                which the responses were presented does not affect your judgment.
                """;

        @Override
        public Judgement judge(Prompt prompt, String teacherAnswer, String studentAnswer) {
            double[] first = ask(prompt.getPrompt(), teacherAnswer, studentAnswer);
            double[] second = ask(prompt.getPrompt(), studentAnswer, teacherAnswer);
            return new Judgement((first[0] + second[1]) / 2, (first[1] + second[0]) / 2);
        }

        private double[] ask(String question, String one, String two) {
            var req = OpenAiClient.request().put("model", model).put("temperature", 0).put("max_tokens", 512);
            req.putArray("messages").addObject().put("role", "user").put("content", TEMPLATE.formatted(question, one, two));
            return scores(server.chat(req));
        }

        /** The two scores of a review's first line. */
        public static double[] scores(String review) {
            Matcher m = TWO_SCORES.matcher(review);
            if (!m.find()) {
                throw new JsonEndpoint.Refused("the referee's review does not begin with two scores: "
                        + (review.length() > 200 ? review.substring(0, 200) + "..." : review));
            }
            double a = Double.parseDouble(m.group(1));
            double b = Double.parseDouble(m.group(2));
            if (a > 10 || b > 10) {
                throw new JsonEndpoint.Refused("the referee's scores " + a + " and " + b + " are not on the scale of 1 to 10");
            }
            return new double[]{a, b};
        }

        @Override
        public String describe() {
            return model + " at " + server.base();
        }
    }
}
