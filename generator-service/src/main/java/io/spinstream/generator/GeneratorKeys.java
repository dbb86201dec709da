package io.spinstream.generator;

import io.spinstream.runtime.config.ConfigKey;
import io.spinstream.runtime.config.RoundKeys;
import io.spinstream.runtime.config.ValueType;

import java.util.List;
import java.time.Duration;

/** The generator's own configuration keys (beside the common ones). */
public final class GeneratorKeys {
    private GeneratorKeys() {
    }

    public static final ConfigKey<Integer> BATCH_SIZE = ConfigKey.optional("spin.generator.batch.size",
            ValueType.POSITIVE_INT, "128", "prompts answered together (KV cache, scoring and per-token work are shared by the batch)");
    public static final ConfigKey<Long> BATCH_WAIT_MS = ConfigKey.optional("spin.generator.batch.wait.ms",
            ValueType.POSITIVE_LONG, "200", "longest wait for a batch to fill");
    public static final ConfigKey<Double> TEMPERATURE = ConfigKey.optional("spin.generator.temperature",
            ValueType.of("a number >= 0", s -> {
                double v = Double.parseDouble(s);
                if (!(v >= 0)) {
                    throw new IllegalArgumentException("negative");
                }
                return v;
            }), "1.0", "sampling temperature of the opponent's answers (0: greedy)");
    public static final ConfigKey<Double> TOP_P = ConfigKey.optional("spin.generator.top.p", ValueType.FRACTION, "1.0",
            "nucleus sampling share");
    public static final ConfigKey<Integer> MAX_NEW_TOKENS = ConfigKey.optional("spin.generator.max.new.tokens",
            ValueType.POSITIVE_INT, "64", "longest answer in tokens");
    public static final ConfigKey<Long> SEED = ConfigKey.optional("spin.generator.seed", ValueType.of(
            "a whole number", Long::parseLong), "0", "base of the per-prompt sampling seeds");

    public static final ConfigKey<Duration> STUCK_AFTER = ConfigKey.optional("spin.generator.stuck.after",
            ValueType.DURATION, "15m", "longest time one batch of prompts may take (reading, rendering their templates,"
                    + " answering); beyond it /health/live answers 503 with the reason and the service exits to be restarted");
    public static final ConfigKey<Integer> SAMPLES = ConfigKey.optional("spin.generator.samples", ValueType.POSITIVE_INT, "1",
            "answers sampled per prompt, each with its own seed; K > 1 puts all K (with the verifier's rewards) in the"
                    + " record's samples, for group objectives (raft, rrhf)");

    public static final ConfigKey<String> REWARD = ConfigKey.optional("spin.generator.reward", ValueType.oneOf("verifier", "http"),
            "verifier", "how answers are rewarded: the prompt's verifier (task metadata), or a reward model at"
                    + " spin.generator.reward.url (POST {prompt_id, prompt, responses}, answer {scores})");
    public static final ConfigKey<String> REWARD_URL = ConfigKey.optional("spin.generator.reward.url", ValueType.HTTP_URL, null,
            "the reward model's scoring endpoint, for spin.generator.reward=http");
    public static final ConfigKey<Long> REWARD_TIMEOUT_MS = ConfigKey.optional("spin.generator.reward.timeout.ms",
            ValueType.POSITIVE_LONG, "30000", "time-out of one request to the reward model");
    public static final ConfigKey<Integer> REWARD_ATTEMPTS = ConfigKey.optional("spin.generator.reward.attempts",
            ValueType.POSITIVE_INT, "3", "tries of one request (time-outs, 408, 429, 5xx) before the batch waits and is read again");
    public static final ConfigKey<String> REWARD_TOKEN = ConfigKey.optional("spin.generator.reward.token", ValueType.TEXT, null,
            "bearer token sent to the reward model (give it as SPIN_GENERATOR_REWARD_TOKEN from a Secret)");

    public static final ConfigKey<String> BACKEND = ConfigKey.optional("spin.generator.backend", ValueType.oneOf("djl", "openai"),
            "djl", "where answers are computed: the opponent's model in this process (djl), or an OpenAI-compatible server"
                    + " (openai: vLLM, spin serve) at spin.generator.openai.url");
    public static final ConfigKey<String> OPENAI_URL = ConfigKey.optional("spin.generator.openai.url", ValueType.HTTP_URL, null,
            "the server's API root, as OpenAI clients take it (http://vllm:8000/v1), for spin.generator.backend=openai");
    public static final ConfigKey<String> OPENAI_MODEL = ConfigKey.optional("spin.generator.openai.model", ValueType.TEXT, null,
            "the name the server gives the run's base (round 0's opponent), where it is not the base's checkpoint id;"
                    + " later opponents are asked for by their checkpoint id");
    public static final ConfigKey<String> OPENAI_API_KEY = ConfigKey.optional("spin.generator.openai.api.key", ValueType.TEXT, null,
            "bearer key sent to the server (give it as SPIN_GENERATOR_OPENAI_API_KEY from a Secret)");
    public static final ConfigKey<Long> OPENAI_TIMEOUT_MS = ConfigKey.optional("spin.generator.openai.timeout.ms",
            ValueType.POSITIVE_LONG, "120000", "time-out of one request to the server (a busy server queues requests)");
    public static final ConfigKey<Integer> OPENAI_ATTEMPTS = ConfigKey.optional("spin.generator.openai.attempts",
            ValueType.POSITIVE_INT, "3", "tries of one request (time-outs, 408, 429, 5xx) before the batch waits and is read again");
    public static final ConfigKey<Integer> OPENAI_CONCURRENCY = ConfigKey.optional("spin.generator.openai.concurrency",
            ValueType.POSITIVE_INT, "32", "requests in flight to the server at once (it batches them)");

    public static List<ConfigKey<?>> all() {
        List<ConfigKey<?>> all = new java.util.ArrayList<>(RoundKeys.all());
        all.addAll(List.of(BATCH_SIZE, BATCH_WAIT_MS, STUCK_AFTER, TEMPERATURE, TOP_P, MAX_NEW_TOKENS, SEED, SAMPLES,
                REWARD, REWARD_URL, REWARD_TIMEOUT_MS, REWARD_ATTEMPTS, REWARD_TOKEN,
                BACKEND, OPENAI_URL, OPENAI_MODEL, OPENAI_API_KEY, OPENAI_TIMEOUT_MS, OPENAI_ATTEMPTS, OPENAI_CONCURRENCY,
                io.spinstream.runtime.config.InitKeys.READ_STORE));
        return all;
    }
}
