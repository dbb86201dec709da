package io.spinstream.evaluator;

import io.spinstream.evaluator.gate.PromotionGate;
import ai.djl.ndarray.NDManager;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.spinstream.evaluator.suite.Metric;
import io.spinstream.evaluator.suite.SuiteRunner;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.Precision;
import io.spinstream.model.TokenBatch;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.objective.Sft;
import io.spinstream.model.tokenizer.ByteLevelBpe;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.model.tokenizer.SpinTokenizer;
import io.spinstream.model.train.AdamW;
import io.spinstream.model.train.LearningRateSchedule;
import io.spinstream.model.train.PreferenceBatch;
import io.spinstream.model.train.TrainStep;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.Verdict;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The evaluator's decision for one checkpoint event on tiny models, without a broker: screened, scored against the
 * opponent on held-out prompts, judged by the gate, promoted now or left to wait for other suites.
 */
class CandidateJudgeTest {
    private static final PromotionGate NLL_GATE = new PromotionGate(Metric.HELD_OUT_NLL, 0.0, Map.of(), 10, 0.95, 0.01);
    private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-12-07T00:00:00Z"), ZoneOffset.UTC);

    @TempDir
    static Path dir;
    static CheckpointStore store;
    static NDManager manager;
    static List<Prompt> heldOut;
    static CheckpointMetadata better;
    static CheckpointMetadata worse;
    static OpponentPromotion base;

    @BeforeAll
    static void checkpoints() {
        store = new CheckpointStore(dir.resolve("store"));
        manager = NDManager.newBaseManager();
        heldOut = IntStream.range(0, 16).mapToObj(i -> SpinFixtures.prompt("arith", "q" + i, i + "+" + i + "=",
                String.valueOf(2 * i))).toList();
        CheckpointMetadata b = SpinFixtures.tinyCheckpoint(store, dir, "base", 1);
        base = OpponentPromotion.newBuilder().setRunId("run").setCheckpointId("base").setRound(0)
                .setUri(store.directoryOf("base").toUri().toString()).setSha256(b.sha256()).setCreatedAt(Instant.EPOCH).build();
        // Better: the base fine-tuned on the held-out answers, so its held-out NLL must fall; worse: on wrong answers.
        better = save("better", fineTuned(false));
        worse = save("worse", fineTuned(true));
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    private static CheckpointMetadata save(String id, LlamaModel model) {
        try (model) {
            Path tokenizer = dir.resolve("tokenizer.json");
            ByteLevelBpe.write(tokenizer, ByteLevelBpe.bytesOnly());
            return store.save(model, tokenizer, CheckpointMetadata.of(id, "base", 0, 0, null, null));
        }
    }

    private static LlamaModel fineTuned(boolean wrong) {
        LlamaModel model = SpinFixtures.tinyModel(manager, 1);
        try (SpinTokenizer tok = SpinTokenizer.load(dir.resolve("tokenizer.json"), PromptTemplate.PLAIN, 2);
             TrainStep step = new TrainStep(model, new Sft(), new AdamW(0.9, 0.999, 1e-8, 0), LearningRateSchedule.constant(3e-3), 1.0)) {
            List<TokenBatch.Example> ex = heldOut.stream().map(p -> tok.example(p.getPrompt(), wrong ? "zzzz" : p.getHumanResponse()))
                    .toList();
            for (int i = 0; i < 40; i++) {
                step.step(List.of(PreferenceBatch.sft(ex)));
            }
        }
        return model;
    }

    private static CheckpointEvent event(String id, String parent, String sha256) {
        return CheckpointEvent.newBuilder().setCheckpointId(id).setParentOpponentId(parent).setRound(0).setStep(10)
                .setUri(store.directoryOf(id).toUri().toString()).setSha256(sha256).setCreatedAt(Instant.EPOCH).build();
    }

    /** A judge of suites "nll" (this evaluator's) where {@code required} must all pass before a promotion. */
    private static CandidateJudge.Judgement judge(List<String> required, CheckpointEvent event, List<Evaluation> history,
                                                  SimpleMeterRegistry registry) {
        try (OpponentBaseline baseline = new OpponentBaseline(SuiteRunner.of(List.of("nll"), 8, 4), PromptTemplate.PLAIN, 4, 8, "e")) {
            CandidateJudge judge = new CandidateJudge(new CandidateJudge.Settings("run", "nll", NLL_GATE, CheckpointLocation.ANYWHERE,
                    Precision.FLOAT32, "e"), new PromotionCoordinator(List.of("nll"), required), baseline,
                    new EvaluatorMetrics(registry), CLOCK);
            return judge.judge(event, Optional.of(base), history, () -> heldOut, manager);
        }
    }

    private static CandidateJudge.Judgement.Judged judged(CandidateJudge.Judgement j) {
        assertThat(j).isInstanceOf(CandidateJudge.Judgement.Judged.class);
        return (CandidateJudge.Judgement.Judged) j;
    }

    @Test
    void aBetterCandidateIsPromotedToTheNextRound() {
        CandidateJudge.Judgement.Judged j = judged(judge(List.of("nll"), event("better", "base", better.sha256()), List.of(),
                new SimpleMeterRegistry()));
        assertThat(j.evaluation().getVerdict()).as("%s", j.evaluation().getReasons()).isEqualTo(Verdict.PROMOTE);
        assertThat(j.scored()).isTrue();
        assertThat(j.evaluation().getHeldOutPrompts()).isEqualTo(16);
        assertThat(j.evaluation().getTests()).containsKey("heldout_nll");
        assertThat(j.evaluation().getMetrics().get("heldout_nll")).isLessThan(j.evaluation().getBaselineMetrics().get("heldout_nll"));
        assertThat(j.promotion()).hasValueSatisfying(p -> {
            assertThat(p.getCheckpointId()).isEqualTo("better");
            assertThat(p.getRound()).isEqualTo(1);
            assertThat(p.getEvaluation()).isEqualTo(j.evaluation());
        });
        assertThat(j.waits()).isEmpty();
    }

    @Test
    void aPassWaitsForTheOtherRequiredSuites() {
        CandidateJudge.Judgement.Judged j = judged(judge(List.of("em", "nll"), event("better", "base", better.sha256()), List.of(),
                new SimpleMeterRegistry()));
        assertThat(j.evaluation().getVerdict()).isEqualTo(Verdict.PROMOTE);
        assertThat(j.promotion()).as("not promoted before em passes").isEmpty();
        assertThat(j.waits()).hasValueSatisfying(w -> assertThat(w.event().getCheckpointId()).isEqualTo("better"));
    }

    @Test
    void aWorseCandidateIsRejectedWithItsTest() {
        CandidateJudge.Judgement.Judged j = judged(judge(List.of("nll"), event("worse", "base", worse.sha256()), List.of(),
                new SimpleMeterRegistry()));
        assertThat(j.evaluation().getVerdict()).isEqualTo(Verdict.REJECT);
        assertThat(j.evaluation().getReasons()).anySatisfy(r -> assertThat(r).contains("not significant"));
        assertThat(j.promotion()).isEmpty();
    }

    @Test
    void refusalsNeedNoScoring() {
        CandidateJudge.Judgement.Judged stale = judged(judge(List.of("nll"), event("better", "older", better.sha256()), List.of(),
                new SimpleMeterRegistry()));
        assertThat(stale.evaluation().getVerdict()).isEqualTo(Verdict.REJECT);
        assertThat(stale.evaluation().getReasons()).containsExactly("stale: trained from older, but the opponent is now base");
        assertThat(stale.scored()).isFalse();

        CandidateJudge.Judgement.Judged corrupt = judged(judge(List.of("nll"), event("better", "base", "00"), List.of(),
                new SimpleMeterRegistry()));
        assertThat(corrupt.evaluation().getVerdict()).isEqualTo(Verdict.INVALID);
        assertThat(corrupt.evaluation().getReasons()).singleElement().asString().startsWith("candidate refused: ")
                .contains("but the checkpoint event of better names 00");
        assertThat(corrupt.evaluation().getBaselineMetrics()).as("the opponent was scored").containsKey("heldout_nll");
    }

    @Test
    void aRepeatedEventWritesNothing() {
        Evaluation earlier = Evaluation.newBuilder().setCheckpointId("better").setBaselineId("base").setRound(0).setSuite("nll")
                .setMetrics(Map.of()).setBaselineMetrics(Map.of()).setHeldOutPrompts(16).setVerdict(Verdict.PROMOTE)
                .setReasons(List.of()).setEvaluator("e").setCreatedAt(Instant.EPOCH).build();
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        CandidateJudge.Judgement j = judge(List.of("nll"), event("better", "base", better.sha256()), List.of(earlier), registry);
        assertThat(j).isEqualTo(new CandidateJudge.Judgement.Nothing("checkpoint better was evaluated by suites nll already"));
        assertThat(registry.counter("spin.evaluator.duplicates").count()).isEqualTo(1);
    }
}
