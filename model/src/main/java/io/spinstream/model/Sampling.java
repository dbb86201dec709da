package io.spinstream.model;

/**
 * How tokens are chosen: {@code temperature} 0 is greedy; otherwise softmax(logits / temperature)
 * restricted to the smallest set of tokens whose probability reaches {@code topP}.
 */
public record Sampling(float temperature, float topP, int maxNewTokens, long seed) {

    public Sampling {
        if (temperature < 0 || Float.isNaN(temperature)) {
            throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        }
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("max new tokens must be >= 1, got " + maxNewTokens);
        }
    }

    public static Sampling greedy(int maxNewTokens) {
        return new Sampling(0f, 1f, maxNewTokens, 0L);
    }

    public boolean isGreedy() {
        return temperature == 0f;
    }
}
