package io.spinstream.lion;

import io.spinstream.lion.roles.PromptWriter;
import io.spinstream.lion.roles.Referee;
import io.spinstream.lion.roles.Teacher;
import io.spinstream.model.Sampling;
import io.spinstream.runtime.Backoff;
import io.spinstream.runtime.ServiceLauncher;
import io.spinstream.runtime.config.RoundKeys;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.openai.OpenAiClient;
import io.spinstream.runtime.openai.ServedOpponent;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.opponent.OpponentSource;

import java.net.URI;
import java.time.Duration;
import java.util.Optional;

import static io.spinstream.lion.LionKeys.*;

/** The Lion service's container entry point: configuration from the environment / SPIN_CONFIG_FILE. */
public final class LionMain {
    private LionMain() {
    }

    public static LionService.Settings settings(ServiceConfig c) {
        OpenAiClient teacherServer = client(c, c.get(TEACHER_URL), c.find(TEACHER_API_KEY));
        Teacher teacher = new Teacher(teacherServer, c.get(TEACHER_MODEL), c.get(TEACHER_TEMPERATURE), c.get(TEACHER_MAX_TOKENS));
        Referee referee = c.get(REFEREE).equals("verifier") ? new Referee.ByVerifier()
                : new Referee.ByModel(role(c, REFEREE_URL, REFEREE_API_KEY), c.find(REFEREE_MODEL).orElse(c.get(TEACHER_MODEL)));
        PromptWriter writer = c.get(WRITER).equals("arithmetic") ? new PromptWriter.Arithmetic()
                : new PromptWriter.ByModel(role(c, WRITER_URL, WRITER_API_KEY), c.find(WRITER_MODEL).orElse(c.get(TEACHER_MODEL)),
                c.get(WRITER_TEMPERATURE), c.get(WRITER_MAX_TOKENS));
        OpponentSource students = c.find(STUDENT_URL)
                .map(url -> ServedOpponent.source(client(c, url, c.find(STUDENT_API_KEY)), RoundKeys.template(c), CheckpointLocation.from(c),
                        Optional.empty(), c.get(CONCURRENCY)))
                .orElseGet(() -> OpponentSource.inProcess(RoundKeys.template(c), CheckpointLocation.from(c),
                        RoundKeys.precision(c, RoundKeys.device(c))));
        return new LionService.Settings(c.get(RoundKeys.RUN_ID), teacher, referee, writer, students,
                Sampling.greedy(c.get(STUDENT_MAX_TOKENS)), RoundKeys.split(c), c.get(TAU), c.get(ROUGE_MAX), c.get(NEW_PER_HARD),
                c.get(EASY_SHARE), c.get(DISCRIMINATE), c.get(BATCH_SIZE), c.get(CONCURRENCY));
    }

    /** A role's endpoint: its own URL and key where given, else the teacher's. */
    private static OpenAiClient role(ServiceConfig c, io.spinstream.runtime.config.ConfigKey<String> url,
                                     io.spinstream.runtime.config.ConfigKey<String> key) {
        return c.find(url).isPresent() ? client(c, c.get(url), c.find(key))
                : client(c, c.get(TEACHER_URL), c.find(key).or(() -> c.find(TEACHER_API_KEY)));
    }

    private static OpenAiClient client(ServiceConfig c, String url, Optional<String> key) {
        return new OpenAiClient(URI.create(url), Duration.ofMillis(c.get(TIMEOUT_MS)), c.get(ATTEMPTS), key, Backoff::standard);
    }

    public static void main(String[] args) {
        ServiceLauncher.run("lion", LionKeys.all(), (context, registry) -> new LionService(context, settings(context.config()), registry));
    }
}
