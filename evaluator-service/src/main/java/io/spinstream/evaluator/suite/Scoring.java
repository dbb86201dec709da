package io.spinstream.evaluator.suite;

import ai.djl.ndarray.NDManager;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.tokenizer.SpinTokenizer;
import io.spinstream.schemas.Prompt;

import java.util.List;
import java.util.function.IntConsumer;

/**
 * What a suite scores with: the held-out prompts, the model under test and its tokenizer, the opponent
 * (baseline), a manager for tensors, and a progress callback (prompts done).
 *
 * @param opponentAnswers the opponent's own answers to the prompts (for the preference suite), by index
 */
public record Scoring(List<Prompt> prompts, LlamaModel model, SpinTokenizer tokenizer, LlamaModel opponent,
                      OpponentAnswers opponentAnswers, NDManager manager, int batchSize, int maxNewTokens,
                      IntConsumer progress) {
}
