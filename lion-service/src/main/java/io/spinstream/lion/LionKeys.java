package io.spinstream.lion;

import io.spinstream.runtime.config.ConfigKey;
import io.spinstream.runtime.config.RoundKeys;
import io.spinstream.runtime.config.ValueType;

import java.util.ArrayList;
import java.util.List;

/** The Lion service's configuration keys (beside the common ones). */
public final class LionKeys {
    private LionKeys() {
    }

    private static final String ENDPOINT = "an OpenAI-compatible API root, as OpenAI clients take it (http://vllm:8000/v1)";

    public static final ConfigKey<String> TEACHER_URL = ConfigKey.required("spin.lion.teacher.url", ValueType.HTTP_URL,
            "the teacher T: " + ENDPOINT);
    public static final ConfigKey<String> TEACHER_MODEL = ConfigKey.required("spin.lion.teacher.model", ValueType.TEXT,
            "the teacher's model name at its endpoint");
    public static final ConfigKey<String> TEACHER_API_KEY = ConfigKey.optional("spin.lion.teacher.api.key", ValueType.TEXT, null,
            "bearer key of the teacher's endpoint (from a Secret, as SPIN_LION_TEACHER_API_KEY)");
    public static final ConfigKey<Double> TEACHER_TEMPERATURE = ConfigKey.optional("spin.lion.teacher.temperature",
            ValueType.of("a number from 0 to 2", s -> range(s, 0, 2)), "0.7", "the teacher's sampling temperature");
    public static final ConfigKey<Integer> TEACHER_MAX_TOKENS = ConfigKey.optional("spin.lion.teacher.max.tokens", ValueType.POSITIVE_INT,
            "512", "longest teacher answer in tokens");

    public static final ConfigKey<String> REFEREE = ConfigKey.optional("spin.lion.referee", ValueType.oneOf("model", "verifier"), "model",
            "who scores teacher against student: a model with Lion's review template (model), or the prompt's verifier (verifier)");
    public static final ConfigKey<String> REFEREE_URL = ConfigKey.optional("spin.lion.referee.url", ValueType.HTTP_URL, null,
            "the referee R, for spin.lion.referee=model: " + ENDPOINT + " (default: the teacher's)");
    public static final ConfigKey<String> REFEREE_MODEL = ConfigKey.optional("spin.lion.referee.model", ValueType.TEXT, null,
            "the referee's model name (default: the teacher's)");
    public static final ConfigKey<String> REFEREE_API_KEY = ConfigKey.optional("spin.lion.referee.api.key", ValueType.TEXT, null,
            "bearer key of the referee's endpoint (default: the teacher's)");

    public static final ConfigKey<String> WRITER = ConfigKey.optional("spin.lion.writer", ValueType.oneOf("model", "arithmetic"), "model",
            "who writes new prompts: a model with Lion's templates (model), or the addition task's writer (arithmetic: same digits and carries)");
    public static final ConfigKey<String> WRITER_URL = ConfigKey.optional("spin.lion.writer.url", ValueType.HTTP_URL, null,
            "the prompt writer G, for spin.lion.writer=model: " + ENDPOINT + " (default: the teacher's)");
    public static final ConfigKey<String> WRITER_MODEL = ConfigKey.optional("spin.lion.writer.model", ValueType.TEXT, null,
            "the prompt writer's model name (default: the teacher's)");
    public static final ConfigKey<String> WRITER_API_KEY = ConfigKey.optional("spin.lion.writer.api.key", ValueType.TEXT, null,
            "bearer key of the prompt writer's endpoint (default: the teacher's)");
    public static final ConfigKey<Double> WRITER_TEMPERATURE = ConfigKey.optional("spin.lion.writer.temperature",
            ValueType.of("a number from 0 to 2", s -> range(s, 0, 2)), "1.0", "the prompt writer's sampling temperature");

    public static final ConfigKey<Integer> WRITER_MAX_TOKENS = ConfigKey.optional("spin.lion.writer.max.tokens", ValueType.POSITIVE_INT,
            "512", "longest new prompt in tokens");

    public static final ConfigKey<String> STUDENT_URL = ConfigKey.optional("spin.lion.student.url", ValueType.HTTP_URL, null,
            "where the student (the run's opponent) answers: " + ENDPOINT + " (spin serve --run, vLLM); unset: in this process");
    public static final ConfigKey<String> STUDENT_API_KEY = ConfigKey.optional("spin.lion.student.api.key", ValueType.TEXT, null,
            "bearer key of the student's endpoint");
    public static final ConfigKey<Integer> STUDENT_MAX_TOKENS = ConfigKey.optional("spin.lion.student.max.tokens", ValueType.POSITIVE_INT,
            "64", "longest student answer in tokens (it answers greedily)");

    public static final ConfigKey<Double> TAU = ConfigKey.optional("spin.lion.tau", ValueType.of("a number >= 0", s -> range(s, 0, 1e9)),
            "1.0", "a prompt is hard when the referee scores the teacher at least this far above the student (1-10 scale)");
    public static final ConfigKey<Double> ROUGE_MAX = ConfigKey.optional("spin.lion.rouge.max", ValueType.FRACTION, "0.7",
            "a new prompt is kept only if its ROUGE-L against every pooled prompt is below this");
    public static final ConfigKey<Integer> NEW_PER_HARD = ConfigKey.optional("spin.lion.new.per.hard", ValueType.POSITIVE_INT, "1",
            "new prompts written from each hard prompt per round");
    public static final ConfigKey<Double> EASY_SHARE = ConfigKey.optional("spin.lion.easy.share", ValueType.FRACTION, "0.1",
            "share of the easy prompts that each beget one new prompt (for the cache pool only)");
    public static final ConfigKey<Boolean> DISCRIMINATE = ConfigKey.optional("spin.lion.discriminate", ValueType.BOOLEAN, "true",
            "false: imitation only (the uniform baseline: no judgements, no new prompts)");
    public static final ConfigKey<Integer> BATCH_SIZE = ConfigKey.optional("spin.lion.batch.size", ValueType.POSITIVE_INT, "32",
            "records per transaction of each step");
    public static final ConfigKey<Integer> CONCURRENCY = ConfigKey.optional("spin.lion.concurrency", ValueType.POSITIVE_INT, "8",
            "requests in flight to each endpoint at once");
    public static final ConfigKey<Long> TIMEOUT_MS = ConfigKey.optional("spin.lion.timeout.ms", ValueType.POSITIVE_LONG, "120000",
            "time-out of one request to an endpoint");
    public static final ConfigKey<Integer> ATTEMPTS = ConfigKey.optional("spin.lion.attempts", ValueType.POSITIVE_INT, "3",
            "tries of one request (time-outs, 408, 429, 5xx) before the batch waits and is read again");

    private static double range(String s, double min, double max) {
        double v = Double.parseDouble(s);
        if (!(v >= min && v <= max)) {
            throw new IllegalArgumentException("out of range");
        }
        return v;
    }

    public static List<ConfigKey<?>> all() {
        List<ConfigKey<?>> all = new ArrayList<>(RoundKeys.all());
        all.addAll(List.of(TEACHER_URL, TEACHER_MODEL, TEACHER_API_KEY, TEACHER_TEMPERATURE, TEACHER_MAX_TOKENS,
                REFEREE, REFEREE_URL, REFEREE_MODEL, REFEREE_API_KEY, WRITER, WRITER_URL, WRITER_MODEL, WRITER_API_KEY,
                WRITER_TEMPERATURE, WRITER_MAX_TOKENS, STUDENT_URL, STUDENT_API_KEY, STUDENT_MAX_TOKENS, TAU, ROUGE_MAX, NEW_PER_HARD, EASY_SHARE,
                DISCRIMINATE, BATCH_SIZE, CONCURRENCY, TIMEOUT_MS, ATTEMPTS, io.spinstream.runtime.config.InitKeys.READ_STORE));
        return all;
    }
}
