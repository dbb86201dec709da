package io.spinstream.lion;

import ai.djl.ndarray.NDManager;
import io.micrometer.core.instrument.Counter;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.DevStack;
import io.spinstream.inference.LoadedModel;
import io.spinstream.lion.roles.RougeL;
import io.spinstream.model.Generator;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.NoGrad;
import io.spinstream.model.Precision;
import io.spinstream.model.Sampling;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.config.RoundKeys;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.health.MetricsServer;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.opponent.Opponent;
import io.spinstream.runtime.opponent.PromptTurns;
import io.spinstream.runtime.reward.Verifier;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.LionJudgement;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.TaskMetadata;
import io.spinstream.schemas.Topics;
import io.spinstream.serve.ModelSlot;
import io.spinstream.serve.OpenAiServer;
import io.spinstream.serve.RequestBatcher;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One Lion iteration on the real broker, with {@code spin serve} as the teacher and as the prompt writer (tiny
 * random models behind the OpenAI API), the run's opponent as the student and the verifier as the referee.
 */
@BrokerTest
class LionIterationTest {
    private static final int ANSWER = 8;

    @Test
    void imitationDiscriminationAndGenerationOnTheBrokerWithSpinServeAsTeacherAndWriter(DevStack stack, @TempDir Path dir) throws Exception {
        SpinFixtures f = new SpinFixtures(stack, dir.resolve("store"), LionKeys.all(), Map.of("SPIN_HELDOUT_SHARE", "0.2",
                "SPIN_LION_TEACHER_URL", "http://127.0.0.1:1/v1", "SPIN_LION_TEACHER_MODEL", "unset")); // the test's own below
        CheckpointMetadata student = f.checkpoint("student", 1);
        CheckpointMetadata teacher = f.checkpoint("teacher", 2);
        CheckpointMetadata writer;
        try (NDManager m = NDManager.newBaseManager();
             LlamaModel model = LlamaModel.random(LlamaConfig.tiny(259, 32, 2, 4, 2, 2048), m, 5, ai.djl.ndarray.types.DataType.FLOAT32)) {
            writer = f.checkpoint("writer", null, model); // room for Lion's template, byte by byte
        }
        var promotion = f.promote(student, 0);

        try (NDManager manager = NDManager.newBaseManager();
             ModelSlot slot = ModelSlot.fixed(LoadedModel.load(teacher.id(), f.store.directoryOf(teacher.id()), Optional.empty(), manager,
                     PromptTemplate.PLAIN, Precision.FLOAT32), manager, PromptTemplate.PLAIN, CheckpointLocation.ANYWHERE);
             RequestBatcher batcher = new RequestBatcher(slot, manager, 16);
             OpenAiServer server = new OpenAiServer(new InetSocketAddress("127.0.0.1", 0), slot, batcher, List.of(), null,
                     MetricsServer.newRegistry(), Clock.systemUTC())) {
            assertThat(slot.loadAdapter("writer", f.store.directoryOf(writer.id()).toUri().toString())).isTrue();
            LoadedModel teacherModel = slot.current();
            // Seeds: for even i the expected answer is the teacher's own (the teacher is right there), else the sum.
            List<Prompt> seeds = new ArrayList<>();
            Map<String, String> teacherSays = new HashMap<>();
            for (int i = 0; i < 16; i++) {
                Prompt p = sum("s-" + i, (10 + i) + "+" + (3 * i) + "=", "");
                String t = greedy(teacherModel, manager, p);
                teacherSays.put(p.getPromptId(), t);
                seeds.add(Prompt.newBuilder(p).setHumanResponse(i % 2 == 0 ? t : Integer.toString(10 + 4 * i)).build());
            }
            ServiceConfig config = f.config(Map.of("SPIN_LION_TEACHER_URL", "http://127.0.0.1:" + server.port() + "/v1",
                    "SPIN_LION_TEACHER_MODEL", teacher.id(), "SPIN_LION_TEACHER_TEMPERATURE", "0",
                    "SPIN_LION_TEACHER_MAX_TOKENS", Integer.toString(ANSWER), "SPIN_LION_REFEREE", "verifier",
                    "SPIN_LION_WRITER_MODEL", "writer", "SPIN_LION_WRITER_MAX_TOKENS", "24", "SPIN_LION_STUDENT_MAX_TOKENS", Integer.toString(ANSWER),
                    "SPIN_LION_EASY_SHARE", "0", "SPIN_LION_BATCH_SIZE", "8"));
            HeldOutSplit split = RoundKeys.split(config);
            // A model referee through the same endpoint: the tiny writer model's review has no scores, a refusal with its reason.
            io.spinstream.runtime.openai.OpenAiClient client = new io.spinstream.runtime.openai.OpenAiClient(java.net.URI.create(
                    "http://127.0.0.1:" + server.port() + "/v1"), Duration.ofSeconds(30), 1, java.util.Optional.empty(),
                    io.spinstream.runtime.Backoff::standard);
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> new io.spinstream.lion.roles.Referee.ByModel(client, "writer")
                            .judge(seeds.get(0), "42", "41"))
                    .isInstanceOf(io.spinstream.runtime.http.JsonEndpoint.Refused.class).hasMessageContaining("does not begin with two scores");
            PrometheusMeterRegistry registry = MetricsServer.newRegistry();
            LionService lion = new LionService(SpinContext.from(config), LionMain.settings(config), registry);
            lion.start();
            try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(f.kafka.idempotentProducer())) {
                for (Prompt p : seeds) {
                    producer.send(f.topics.lionTrain().rawRecord(p.getPromptId(), p));
                    producer.send(f.topics.lionCache().rawRecord(p.getPromptId(), p));
                }
                producer.flush();
            }
            try {
                // Discrimination: every cache prompt judged once, by the verifier on the two models' own greedy answers.
                List<LionJudgement> judged = f.read(f.topics.lionJudgements(), l -> l.size() >= seeds.size(), Duration.ofSeconds(90));
                assertThat(judged).extracting(j -> j.getPrompt().getPromptId())
                        .containsExactlyInAnyOrderElementsOf(seeds.stream().map(Prompt::getPromptId).toList());
                Set<String> hard = new java.util.HashSet<>();
                try (Opponent s = Opponent.load(promotion, manager, PromptTemplate.PLAIN, CheckpointLocation.ANYWHERE)) {
                    for (LionJudgement j : judged) {
                        Prompt p = j.getPrompt();
                        assertThat(j.getTeacherAnswer()).isEqualTo(teacherSays.get(p.getPromptId()));
                        assertThat(j.getStudentAnswer()).isEqualTo(greedy(s.model(), manager, p));
                        Verifier v = Verifier.of(p).orElseThrow();
                        boolean expectHard = v.reward(j.getTeacherAnswer()) == 1 && v.reward(j.getStudentAnswer()) == 0;
                        assertThat(j.getHard()).as(p.getPromptId()).isEqualTo(expectHard);
                        assertThat(j.getStudentId()).isEqualTo("student");
                        if (j.getHard()) {
                            hard.add(p.getPromptId());
                        }
                    }
                }
                assertThat(hard).as("the teacher is right on the even seeds, the student (another model) is not").isNotEmpty();

                // Imitation: the training share of the train pool, each with the teacher's answer as its response.
                Set<String> trainSeeds = seeds.stream().map(Prompt::getPromptId).filter(split::isTraining).collect(Collectors.toSet());
                List<Prompt> imitated = f.read(f.topics.prompts(Topics.LION_STREAM), l -> l.size() >= trainSeeds.size(), Duration.ofSeconds(60));
                assertThat(imitated).extracting(Prompt::getPromptId).containsAll(trainSeeds);
                for (Prompt p : imitated) {
                    assertThat(split.isTraining(p.getPromptId())).as("held-out prompts are not imitated").isTrue();
                    if (teacherSays.containsKey(p.getPromptId())) {
                        assertThat(p.getHumanResponse()).isEqualTo(teacherSays.get(p.getPromptId()));
                        assertThat(p.getStream()).isEqualTo(Topics.LION_STREAM);
                    }
                }

                // Generation: one new prompt per hard one, written by the model behind spin serve; kept if ROUGE-L < 0.7.
                long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
                while (count(registry, "spin.lion.prompts.written") < hard.size() && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                }
                assertThat(count(registry, "spin.lion.prompts.written")).isEqualTo(hard.size());
                double kept = count(registry, "spin.lion.prompts.kept");
                assertThat(kept + count(registry, "spin.lion.prompts.similar")).isEqualTo(hard.size());
                List<Prompt> cache = f.readAll(f.topics.lionCache());
                List<Prompt> fresh = cache.stream().filter(p -> !teacherSays.containsKey(p.getPromptId())).toList();
                assertThat(fresh).hasSize((int) kept);
                for (Prompt p : fresh) {
                    assertThat(hard).contains(p.getTask().getAttributes().get("lion_source"));
                    for (Prompt s : seeds) {
                        assertThat(RougeL.f(p.getPrompt(), s.getPrompt())).isLessThan(0.7);
                    }
                }
                Set<String> freshIds = fresh.stream().map(Prompt::getPromptId).collect(Collectors.toSet());
                assertThat(f.readAll(f.topics.lionTrain()).stream().map(Prompt::getPromptId).filter(freshIds::contains).count())
                        .as("prompts written from hard ones join the train pool too").isEqualTo((long) kept);
                // ... and are imitated in turn: the next iteration's teacher answers.
                Set<String> freshTrain = freshIds.stream().filter(split::isTraining).collect(Collectors.toSet());
                List<Prompt> later = f.read(f.topics.prompts(Topics.LION_STREAM),
                        l -> l.stream().map(Prompt::getPromptId).collect(Collectors.toSet()).containsAll(freshTrain), Duration.ofSeconds(60));
                assertThat(later.stream().map(Prompt::getPromptId).collect(Collectors.toSet())).containsAll(freshTrain);
                // New prompts wait for the next student: this round judged the seeds alone.
                assertThat(count(registry, "spin.lion.teacher.calls.discrimination")).isEqualTo(seeds.size());
                assertThat(fresh).allSatisfy(p -> assertThat(p.getTask().getAttributes()).containsEntry("lion_round", "0"));
                assertThat(lion.failure()).isNull();
                // What spin status prints: the round's judgements and the prompts written from them.
                LionProgress progress = LionProgress.of(f.readAll(f.topics.lionJudgements()), f.readAll(f.topics.lionTrain()), cache);
                assertThat(progress.rounds()).containsOnlyKeys(0);
                assertThat(progress.rounds().get(0)).isEqualTo(new LionProgress.Round(seeds.size(), hard.size(), (int) kept));
                assertThat(progress.cachePool()).isEqualTo(seeds.size() + (int) kept);
                assertThat(progress.lines().get(1)).isEqualTo("lion round 0: 16 judged, " + hard.size() + " hard, "
                        + (16 - hard.size()) + " easy; " + (int) kept + " new prompts kept");
            } finally {
                lion.stop();
            }
        }
    }

    private static double count(PrometheusMeterRegistry registry, String name) {
        return registry.find(name).counters().stream().mapToDouble(Counter::count).sum();
    }

    private static Prompt sum(String id, String text, String answer) {
        return Prompt.newBuilder().setPromptId(id).setStream("arith").setPrompt(text).setHumanResponse(answer)
                .setTask(TaskMetadata.newBuilder().setKind("addition").setVerifiable(true).setSuites(List.of()).setAttributes(Map.of()).build())
                .build();
    }

    /** The model's greedy answer, in this process (independently of the server and the steps), as the roles strip it. */
    private static String greedy(LoadedModel model, NDManager manager, Prompt p) {
        try (NoGrad ignored = NoGrad.enter()) {
            int[] prompt = model.tokenizer().encodePrompt(PromptTurns.of(p));
            Generator.Answer a = new Generator(model.checkpoint().model()).answer(manager, List.of(prompt), Sampling.greedy(ANSWER),
                    new long[]{0}).get(0);
            return model.tokenizer().decode(a.tokens()).strip();
        }
    }
}
