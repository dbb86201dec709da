package io.spinstream.lion;

import io.spinstream.model.tokenizer.ChatTemplate;
import ai.djl.ndarray.NDManager;
import io.micrometer.core.instrument.MeterRegistry;
import io.spinstream.lion.roles.Judgement;
import io.spinstream.lion.roles.Referee;
import io.spinstream.lion.roles.Teacher;
import io.spinstream.model.NoGrad;
import io.spinstream.model.Sampling;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.deadletter.Decoded;
import io.spinstream.runtime.deadletter.RecordDecoder;
import io.spinstream.runtime.http.Fanout;
import io.spinstream.runtime.http.JsonEndpoint;
import io.spinstream.runtime.opponent.OpponentModel;
import io.spinstream.runtime.opponent.OpponentSource;
import io.spinstream.runtime.opponent.OpponentWatcher;
import io.spinstream.runtime.opponent.PromptTurns;
import io.spinstream.schemas.LionJudgement;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Prompt;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Discrimination: with each new student (the run's opponent, one pass per round in group
 * {@code <prefix>-lion-discriminate-r<round>}), the teacher and the student answer every prompt of the cache
 * pool and the referee scores both; the judgement (hard when the teacher is ahead by tau or more) goes to
 * {@code <prefix>.lion.judgements}. A prompt written from this round's judgements waits for the next round's pass.
 * The student answers greedily, as the gate's exact match reads it.
 */
final class DiscriminationStep extends PoolStep {
    private static final Logger log = LoggerFactory.getLogger(DiscriminationStep.class);

    private final String runId;
    private final OpponentSource students;
    private final Teacher teacher;
    private final Referee referee;
    private final Sampling sampling;
    private final double tau;
    private final Fanout fanout;
    private final RecordDecoder<String, Prompt> decoder;
    private OpponentWatcher watcher;
    private NDManager manager;
    private OpponentModel student;
    private long nextLoad; // after a load that failed: when to try again (a checkpoint is hashed on every try)
    private static final long RETRY_NANOS = 5_000_000_000L;

    DiscriminationStep(SpinContext context, MeterRegistry metrics, String runId, OpponentSource students, Teacher teacher,
                       Referee referee, Sampling sampling, double tau, int batchSize, int concurrency) {
        super("discriminate", context, metrics, batchSize);
        this.runId = runId;
        this.students = students;
        this.teacher = teacher;
        this.referee = referee;
        this.sampling = sampling;
        this.tau = tau;
        this.fanout = new Fanout(concurrency, "the teacher and the referee");
        this.decoder = new RecordDecoder<>(t -> context.topics().lionCache(), deadLetters);
    }

    @Override
    protected void begin() {
        manager = NDManager.newBaseManager();
        watcher = new OpponentWatcher(context.kafka(), context.topics().opponent(), runId).start();
        watch("opponent follower", watcher::isAlive);
    }

    @Override
    protected void end() {
        if (student != null) {
            student.close();
        }
        if (watcher != null) {
            watcher.close();
        }
        if (manager != null) {
            manager.close();
        }
    }

    /** The current student's pass; a newly promoted student is loaded here (tried again later where it cannot be yet). */
    @Override
    protected Optional<String> group() {
        Optional<OpponentPromotion> latest = watcher.current();
        if (latest.isEmpty()) {
            return Optional.empty();
        }
        if (student == null || !student.id().equals(latest.get().getCheckpointId())) {
            if (System.nanoTime() < nextLoad) {
                return Optional.empty();
            }
            try {
                student = students.next(student, latest.get(), manager);
                log.info("lion discriminate: student {} (round {})", student.id(), student.round());
            } catch (RuntimeException e) {
                student = null;
                nextLoad = System.nanoTime() + RETRY_NANOS;
                log.warn("lion discriminate: cannot load student {} yet ({}); trying again in 5 s", latest.get().getCheckpointId(),
                        e.getMessage());
                return Optional.empty();
            }
        }
        return Optional.of(context.topics().prefix() + "-lion-discriminate-r" + student.round());
    }

    @Override
    protected String topic() {
        return context.topics().lionCache().name();
    }

    @Override
    protected Output transform(List<ConsumerRecord<byte[], byte[]>> batch) {
        Decoded<String, Prompt> decoded = decoder.decode(batch);
        List<ProducerRecord<byte[], byte[]>> letters = new ArrayList<>(decoded.deadLetters());
        // A prompt the student cannot read (longer than its context, or empty) is its dead letter.
        List<Decoded.Read<String, Prompt>> reads = new ArrayList<>();
        List<int[]> encoded = new ArrayList<>();
        int positions = student.config().maxPositions();
        long deferred = 0;
        for (Decoded.Read<String, Prompt> r : decoded.records()) {
            String writtenIn = r.value().getTask().getAttributes().get(GenerationStep.ROUND_ATTRIBUTE);
            if (writtenIn != null && writtenIn.matches("\\d+") && Integer.parseInt(writtenIn) >= student.round()) {
                deferred++; // written from this round's judgements: the next round's pass judges it
                continue;
            }
            int[] ids;
            try {
                ids = r.value().getPrompt().isBlank() ? new int[0] : student.tokenizer().encodePrompt(PromptTurns.of(r.value()));
            } catch (ChatTemplate.Refusal e) {
                letters.add(deadLetters.record(r.raw(), e.getMessage()));
                continue;
            }
            if (ids.length == 0 || ids.length + 1 >= positions) {
                letters.add(deadLetters.record(r.raw(), ids.length == 0 ? "empty prompt" : "prompt of " + ids.length
                        + " tokens exceeds the student's context of " + positions + " positions"));
                continue;
            }
            reads.add(r);
            encoded.add(ids);
        }
        long[] seeds = new long[reads.size()];
        for (int i = 0; i < reads.size(); i++) {
            seeds[i] = ImitationStep.seedOf(reads.get(i).value().getPromptId()) + student.round();
        }
        List<OpponentModel.Draft> drafts;
        try (NoGrad ignored = NoGrad.enter()) {
            drafts = student.generate(manager, encoded, 1, seeds, sampling, Math.max(1, reads.size()));
        }
        // Each prompt: the teacher's answer, then the referee's scores of both; a refusal is the prompt's dead letter.
        List<Object> judged = fanout.map(reads.size(), i -> {
            Prompt p = reads.get(i).value();
            if (drafts.get(i).refusal() != null) {
                return new JsonEndpoint.Refused("the student refused it: " + drafts.get(i).refusal());
            }
            try {
                String t = teacher.answer(p, ImitationStep.seedOf(p.getPromptId()));
                Judgement j = referee.judge(p, t, drafts.get(i).text());
                return LionJudgement.newBuilder().setPrompt(p).setRound(student.round()).setStudentId(student.id())
                        .setTeacherAnswer(t).setStudentAnswer(drafts.get(i).text()).setTeacherScore(j.teacher())
                        .setStudentScore(j.student()).setHard(j.hard(tau)).setReferee(referee.describe())
                        .setCreatedAt(Clock.systemUTC().instant()).build();
            } catch (JsonEndpoint.Refused e) {
                return e;
            }
        });
        List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>();
        long hard = 0;
        for (int i = 0; i < reads.size(); i++) {
            if (judged.get(i) instanceof JsonEndpoint.Refused refused) {
                letters.add(deadLetters.record(reads.get(i).raw(), refused.getMessage()));
                continue;
            }
            LionJudgement j = (LionJudgement) judged.get(i);
            hard += j.getHard() ? 1 : 0;
            out.add(context.topics().lionJudgements().rawRecord(j.getPrompt().getPromptId(), j));
        }
        return new Output(out, letters, Map.of("teacher.calls.discrimination", (long) reads.size(), "judged.hard", hard,
                "judged.easy", out.size() - hard, "judged.deferred", deferred));
    }
}
