package io.spinstream.evaluator.suite;

/**
 * The opponent's own answers y' to the held-out prompts and its log-probs of y and y', computed once per
 * opponent (the preference suite compares every candidate of a round against them).
 *
 * @param tokens     each answer's own tokens (without EOS), of which {@code logpAnswer} is the log-prob, or null
 *                   where the answer is its text encoded
 */
public record OpponentAnswers(String[] answers, double[] logpHuman, double[] logpAnswer, int[][] tokens) {

    /** Answer i as the opponent's log-prob has it: its own tokens, else its text encoded. */
    public io.spinstream.model.TokenBatch.Example example(io.spinstream.model.tokenizer.SpinTokenizer tokenizer,
                                                          java.util.List<io.spinstream.model.tokenizer.ChatMessage> turns, int i) {
        return tokens[i] != null ? tokenizer.example(turns, tokens[i]) : tokenizer.example(turns, answers[i]);
    }
}
