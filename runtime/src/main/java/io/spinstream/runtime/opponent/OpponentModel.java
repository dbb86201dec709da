package io.spinstream.runtime.opponent;

import ai.djl.ndarray.NDManager;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.Sampling;
import io.spinstream.model.TokenBatch;
import io.spinstream.model.tokenizer.SpinTokenizer;
import io.spinstream.schemas.OpponentPromotion;

import java.util.List;

/**
 * The opponent as {@link PromptAnswerer} uses it: its tokenizer and shape, generation and teacher-forced scoring,
 * computed in this JVM ({@link Opponent}) or by an OpenAI-compatible server ({@code ServedOpponent}).
 */
public interface OpponentModel extends AutoCloseable {

    /**
     * One generated answer.
     *
     * @param length         tokens generated
     * @param tokens         those tokens, where known (null: the backend gives text only)
     * @param logProbWithEos log p of {@code tokens} and an EOS after them, where generation gave it (else NaN)
     * @param refusal        why the backend refused this prompt (its own reason), or null
     */
    record Draft(String text, int length, int[] tokens, double logProbWithEos, String refusal) {
        public static Draft refused(String reason) {
            return new Draft("", 0, null, Double.NaN, reason);
        }
    }

    /** The promotion that made it the opponent. */
    OpponentPromotion promotion();

    default String id() {
        return promotion().getCheckpointId();
    }

    default int round() {
        return promotion().getRound();
    }

    LlamaConfig config();

    SpinTokenizer tokenizer();

    /**
     * Answers {@code samples} times per prompt: row {@code i * samples + k} is prompt i's sample k, drawn with
     * {@code seeds[row]} (a backend that seeds per request uses the row of sample 0).
     *
     * @param rows answers generated at once (continuous batching beyond), where the backend batches itself
     */
    List<Draft> generate(NDManager manager, List<int[]> prompts, int samples, long[] seeds, Sampling sampling, int rows);

    /**
     * log p(response | prompt) summed over each example's response tokens; an example the backend refuses is
     * NaN, with the reason in {@code refusals} at its index.
     */
    double[] score(NDManager manager, List<TokenBatch.Example> examples, String[] refusals);

    @Override
    void close();
}
