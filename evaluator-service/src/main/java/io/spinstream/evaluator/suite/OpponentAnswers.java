package io.spinstream.evaluator.suite;

import io.spinstream.model.TokenBatch;
import io.spinstream.model.tokenizer.ChatMessage;
import io.spinstream.model.tokenizer.SpinTokenizer;

import java.util.List;

/**
 * The opponent's own answers y' to the held-out prompts and its log-probs of y and y', computed once per
 * opponent (the preference suite compares every candidate of a round against them).
 *
 * @param tokens     each answer's own tokens (without EOS), of which {@code logpAnswer} is the log-prob, or null
 *                   where the answer is its text encoded
 */
public record OpponentAnswers(String[] answers, double[] logpHuman, double[] logpAnswer, int[][] tokens) {

    /** Answer i as the opponent's log-prob has it: its own tokens, else its text encoded. */
    public TokenBatch.Example example(SpinTokenizer tokenizer, List<ChatMessage> turns, int i) {
        return tokens[i] != null ? tokenizer.example(turns, tokens[i]) : tokenizer.example(turns, answers[i]);
    }
}
