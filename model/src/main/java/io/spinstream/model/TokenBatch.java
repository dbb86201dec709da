package io.spinstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.List;

/**
 * Prompt + response sequences, right-padded into one batch for teacher forcing: the model reads
 * {@code inputs} and is scored on {@code targets} (the inputs shifted by one), where only response
 * tokens count ({@code responseMask}); prompt and padding are masked out.
 */
public record TokenBatch(int batch, int steps, long[] inputs, long[] targets, float[] responseMask,
                         int[] responseLengths) {

    /** One example: prompt token ids and response token ids (the response usually ends with EOS). */
    public record Example(int[] prompt, int[] response) {
        public Example {
            if (prompt.length == 0) {
                throw new IllegalArgumentException("a prompt needs at least one token");
            }
        }

        public int length() {
            return prompt.length + response.length;
        }
    }

    public static TokenBatch of(List<Example> examples, int padId) {
        int maxLen = examples.stream().mapToInt(Example::length).max().orElseThrow();
        int steps = maxLen - 1;
        int b = examples.size();
        long[] inputs = new long[b * steps];
        long[] targets = new long[b * steps];
        float[] mask = new float[b * steps];
        int[] lengths = new int[b];
        java.util.Arrays.fill(inputs, padId);
        java.util.Arrays.fill(targets, padId);
        for (int row = 0; row < b; row++) {
            Example e = examples.get(row);
            int[] seq = new int[e.length()];
            System.arraycopy(e.prompt(), 0, seq, 0, e.prompt().length);
            System.arraycopy(e.response(), 0, seq, e.prompt().length, e.response().length);
            for (int t = 0; t < seq.length - 1; t++) {
                inputs[row * steps + t] = seq[t];
                targets[row * steps + t] = seq[t + 1];
                // target t+1 is a response token when t+1 >= prompt length
                mask[row * steps + t] = (t + 1 >= e.prompt().length) ? 1f : 0f;
            }
            lengths[row] = e.response().length;
        }
        return new TokenBatch(b, steps, inputs, targets, mask, lengths);
    }

    /** Rows {@code from} .. {@code to}-1 alone, at the same width. */
    public TokenBatch rows(int from, int to) {
        if (from < 0 || to > batch || from >= to) {
            throw new IllegalArgumentException("rows " + from + ".." + to + " of a batch of " + batch);
        }
        int n = to - from;
        long[] in = java.util.Arrays.copyOfRange(inputs, from * steps, to * steps);
        long[] out = java.util.Arrays.copyOfRange(targets, from * steps, to * steps);
        float[] mask = java.util.Arrays.copyOfRange(responseMask, from * steps, to * steps);
        return new TokenBatch(n, steps, in, out, mask, java.util.Arrays.copyOfRange(responseLengths, from, to));
    }

    public NDArray inputs(NDManager manager) {
        return manager.create(inputs, new Shape(batch, steps));
    }

    public NDArray targets(NDManager manager) {
        return manager.create(targets, new Shape(batch, steps));
    }

    public NDArray responseMask(NDManager manager, DataType type) {
        return manager.create(responseMask, new Shape(batch, steps)).toType(type, false);
    }

    /** Response tokens scored in the batch (the tokens a training step learns from). */
    public long responseTokens() {
        long n = 0;
        for (int l : responseLengths) {
            n += l;
        }
        return n;
    }
}
