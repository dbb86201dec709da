package io.spinstream.trainer.round;

import ai.djl.ndarray.NDManager;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.checkpoint.LoadedCheckpoint;
import io.spinstream.model.objective.Objective;
import io.spinstream.model.tokenizer.ByteLevelBpe;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.TrainingPair;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The round state machine without a broker: pairs are offered by hand, time is a hand-moved clock and
 * generation progress a flag, so every case runs in milliseconds once libtorch is loaded.
 */
class RoundTrainerTest {
    static final PartitionKey P0 = new PartitionKey("spin.pairs", 0);

    @TempDir
    Path dir;
    CheckpointStore store;
    CheckpointMetadata base;
    final long[] now = {1_000_000};
    final InstantSource clock = () -> Instant.ofEpochMilli(now[0]);
    final List<RoundListener.Candidate> candidates = new ArrayList<>();
    final List<String> transitions = new ArrayList<>();
    NDManager manager;
    final List<RoundTrainer> open = new ArrayList<>();

    final RoundListener recorder = new RoundListener() {
        @Override
        public void onCandidate(RoundTrainer round, Candidate c) {
            candidates.add(c);
        }

        @Override
        public void onStateChange(RoundTrainer round, RoundTrainer.State from, RoundTrainer.State to, String reason) {
            transitions.add(from + "->" + to);
        }
    };

    @BeforeEach
    void base() {
        store = new CheckpointStore(dir.resolve("store"));
        manager = NDManager.newBaseManager();
        Path tokenizer = dir.resolve("tokenizer.json");
        ByteLevelBpe.write(tokenizer, ByteLevelBpe.bytesOnly());
        try (NDManager m = NDManager.newBaseManager(); LlamaModel model = SpinFixtures.tinyModel(m, 1)) {
            base = store.save(model, tokenizer, CheckpointMetadata.of("base", null, 0, 0, null, null));
        }
    }

    @AfterEach
    void close() {
        open.forEach(RoundTrainer::close);
        manager.close();
    }

    static TrainingPair pair(int i, String opponent, int round, boolean identical) {
        return TrainingPair.newBuilder().setPromptId("p" + i).setStream("arith").setPrompt(i + "+" + i + "=")
                .setHuman(String.valueOf(2 * i)).setSynthetic(identical ? String.valueOf(2 * i) : String.valueOf(2 * i + 1))
                .setOpponentLogpHuman(-9.5).setOpponentLogpSynthetic(-9.0).setOpponentId(opponent).setRound(round)
                .setIdentical(identical).setCreatedAt(Instant.EPOCH).build();
    }

    static RoundSettings settings(RejectionPolicy policy, int checkpointEvery, RoundSettings.Convergence convergence, Path store) {
        return new RoundSettings(new RoundSettings.Training(Objective.parse("spin:lambda=1,alpha=1"), "adamw", 1e-3, 0, 0, 1.0, 4, 1),
                new RoundSettings.Checkpointing("t", store, checkpointEvery), convergence, policy, false, PromptTemplate.PLAIN, 60_000);
    }

    RoundSettings settings(RejectionPolicy policy, int checkpointEvery) {
        return settings(policy, checkpointEvery, new RoundSettings.Convergence(0.95, 50), store.root());
    }

    RoundPlan.OpponentRef opponent() {
        return new RoundPlan.OpponentRef("base", 0, store.directoryOf("base"), base.sha256());
    }

    RoundTrainer round(RoundSettings s, RoundEnd.GenerationProgress progress) {
        return round(s, progress, store);
    }

    RoundTrainer round(RoundSettings s, RoundEnd.GenerationProgress progress, CheckpointStore in) {
        RoundTrainer r = new RoundTrainer(RoundPlan.of(in, opponent(), false), s, in, new RoundEnd(clock, 1000, progress), manager,
                List.of(recorder));
        open.add(r);
        return r;
    }

    /** Offers the pairs at offsets [from, to) as the pairs topic holds them (pair i at offset i). */
    static void offer(RoundTrainer r, int from, int to) {
        for (int i = from; i < to; i++) {
            assertThat(r.offer(P0, i, pair(i, "base", 0, false))).isInstanceOf(Intake.Accepted.class);
        }
    }

    @Test
    void fullStepsTrainAtOnceAndTheIdleClockEndsThePass() {
        RoundTrainer r = round(settings(new RejectionPolicy.Continue(), 100), RoundEnd.GenerationProgress.NONE);
        offer(r, 0, 10);
        r.tick();
        assertThat(r.totalSteps()).isEqualTo(2);
        assertThat(r.buffered()).isEqualTo(2);
        assertThat(r.state()).isEqualTo(RoundTrainer.State.TRAINING);
        now[0] += 999;
        r.tick();
        assertThat(candidates).as("not idle yet").isEmpty();
        now[0] += 1;
        r.tick();
        assertThat(r.state()).isEqualTo(RoundTrainer.State.ENDED);
        assertThat(candidates).singleElement().satisfies(c -> {
            assertThat(c.endOfRound()).isTrue();
            assertThat(c.metadata().id()).isEqualTo("t-r0-s3");
            assertThat(c.metadata().parentId()).isEqualTo("base");
            assertThat(c.metadata().offsets()).isEqualTo(Map.of("spin.pairs-0", 10L));
            assertThat(c.metadata().metrics().get("pairs_trained")).isEqualTo(10.0);
        });
        // A pair after the end of the pass starts training again.
        offer(r, 10, 11);
        assertThat(r.state()).isEqualTo(RoundTrainer.State.TRAINING);
        assertThat(transitions).containsExactly("TRAINING->ENDED", "ENDED->TRAINING");
    }

    @Test
    void thePassEndsOnlyOnceGenerationIsDoneAskedAtMostOnceASecond() {
        AtomicReference<List<String>> left = new AtomicReference<>(List.of("spin.prompts.arith-0"));
        int[] asked = {0};
        RoundTrainer r = round(settings(new RejectionPolicy.Continue(), 100), () -> {
            asked[0]++;
            return left.get();
        });
        offer(r, 0, 6);
        now[0] += 5000;
        r.tick();
        r.tick();
        assertThat(asked[0]).as("asked once within the second").isEqualTo(1);
        assertThat(r.state()).isEqualTo(RoundTrainer.State.TRAINING);
        left.set(List.of());
        r.tick();
        assertThat(r.state()).as("the answer is not asked again within a second").isEqualTo(RoundTrainer.State.TRAINING);
        now[0] += 1000;
        r.tick();
        assertThat(asked[0]).isEqualTo(2);
        assertThat(r.state()).isEqualTo(RoundTrainer.State.ENDED);
        assertThat(candidates).singleElement().satisfies(c -> assertThat(c.metadata().metrics().get("pairs_trained")).isEqualTo(6.0));
    }

    @Test
    void thePassEndsAsSoonAsItsPairsAreDeliveredWithoutAnIdleWait() {
        AtomicReference<List<String>> left = new AtomicReference<>(List.of("the pair joiner has not read [spin.synthetic-0]"));
        RoundTrainer r = round(settings(new RejectionPolicy.Continue(), 100), left::get);
        offer(r, 0, 6);
        r.tick();
        assertThat(r.state()).as("delivery not complete").isEqualTo(RoundTrainer.State.TRAINING);
        left.set(List.of());
        now[0] += 1000; // the next look, not an idle time: a pair arrives just before it
        offer(r, 6, 7);
        r.tick();
        assertThat(r.state()).isEqualTo(RoundTrainer.State.ENDED);
        assertThat(candidates).singleElement().satisfies(c -> assertThat(c.metadata().metrics().get("pairs_trained")).isEqualTo(7.0));

        // A late pair (or the first of a round read again after a rollback): the delivery seen complete a moment
        // ago is not taken for this one; the next look, while it is still on its way, says so.
        left.set(List.of("this trainer has not read the pairs on [spin.pairs-0]"));
        offer(r, 7, 8);
        r.tick();
        assertThat(r.state()).as("the earlier look is not reused").isEqualTo(RoundTrainer.State.TRAINING);
        now[0] += 1000;
        r.tick();
        assertThat(r.state()).isEqualTo(RoundTrainer.State.TRAINING);
        left.set(List.of());
        now[0] += 1000;
        r.tick();
        assertThat(r.state()).isEqualTo(RoundTrainer.State.ENDED);
        assertThat(candidates).hasSize(2);
    }

    @Test
    void pairsOfOtherOpponentsAreStaleAndUntrainableOnesInvalid() {
        RoundTrainer r = round(settings(new RejectionPolicy.Continue(), 100), RoundEnd.GenerationProgress.NONE);
        assertThat(r.offer(P0, 0, pair(0, "older", 0, false))).isInstanceOf(Intake.Stale.class);
        assertThat(r.offer(P0, 1, pair(1, "base", 1, false))).as("the opponent's id, another round").isInstanceOf(Intake.Stale.class);
        TrainingPair tooLong = pair(2, "base", 0, false);
        tooLong.setPrompt("9".repeat(80));
        assertThat(r.offer(P0, 2, tooLong)).isInstanceOfSatisfying(Intake.Invalid.class,
                i -> assertThat(i.reason()).contains("exceeds the model's context of 64 positions"));
        r.passed(P0, 3);
        assertThat(r.buffered()).isZero();
        assertThat(r.positions()).isEqualTo(Map.of(P0, 4L));
    }

    @Test
    void aRollbackRereadsTheRoundFromTheOpponentAtTheLowerLearningRate() {
        RoundTrainer r = round(settings(new RejectionPolicy.Rollback(2, 0.5), 100), RoundEnd.GenerationProgress.NONE);
        offer(r, 0, 8);
        now[0] += 1000;
        r.tick();
        assertThat(r.rejections(1)).as("one rejection of two").isFalse();
        assertThat(r.rejections(1)).as("the same count again").isFalse();
        assertThat(r.rejections(2)).isTrue();
        assertThat(r.learningRate()).isEqualTo(5e-4);
        assertThat(r.positions()).as("the round's start: the base's (none)").isEmpty();
        assertThat(r.state()).isEqualTo(RoundTrainer.State.TRAINING);
        offer(r, 0, 8);
        now[0] += 1000;
        r.tick();
        assertThat(candidates).hasSize(2);
        CheckpointMetadata first = candidates.get(0).metadata();
        CheckpointMetadata again = candidates.get(1).metadata();
        assertThat(again.id()).isEqualTo("t-r0-s4");
        assertThat(again.metrics().get("pairs_trained")).isEqualTo(16.0);
        assertThat(again.metrics().get("lr")).isEqualTo(5e-4);
        assertThat(again.offsets()).isEqualTo(first.offsets());

        // The rolled-back θ trained exactly like a fresh round from the opponent at 5e-4.
        CheckpointStore other = new CheckpointStore(dir.resolve("fresh"));
        RoundSettings half = new RoundSettings(new RoundSettings.Training(Objective.parse("spin:lambda=1,alpha=1"), "adamw", 5e-4,
                0, 0, 1.0, 4, 1), new RoundSettings.Checkpointing("u", other.root(), 100),
                new RoundSettings.Convergence(0.95, 50), new RejectionPolicy.Continue(), false, PromptTemplate.PLAIN, 60_000);
        RoundTrainer fresh = round(half, RoundEnd.GenerationProgress.NONE, other);
        offer(fresh, 0, 8);
        now[0] += 1000;
        fresh.tick();
        assertThat(maxDifference(candidates.get(1), candidates.get(2))).isLessThan(1e-6);
        assertThat(maxDifference(candidates.get(0), candidates.get(2))).as("lr 1e-3 differs").isGreaterThan(1e-5);
    }

    @Test
    void theStopPolicyConvergesTheRoundAndNothingMoreIsTrained() {
        RoundTrainer r = round(settings(new RejectionPolicy.Stop(1), 100), RoundEnd.GenerationProgress.NONE);
        offer(r, 0, 4);
        r.tick();
        assertThat(r.rejections(1)).isFalse();
        assertThat(r.state()).isEqualTo(RoundTrainer.State.CONVERGED);
        long steps = r.totalSteps();
        offer(r, 4, 12);
        now[0] += 5000;
        r.tick();
        assertThat(r.totalSteps()).isEqualTo(steps);
        assertThat(r.buffered()).isZero();
        assertThat(r.rejections(3)).as("no rollback once converged").isFalse();
    }

    @Test
    void theContinuePolicyKeepsTraining() {
        RoundTrainer r = round(settings(new RejectionPolicy.Continue(), 100), RoundEnd.GenerationProgress.NONE);
        offer(r, 0, 4);
        r.tick();
        assertThat(r.rejections(7)).isFalse();
        assertThat(r.learningRate()).isEqualTo(1e-3);
        offer(r, 4, 8);
        r.tick();
        assertThat(r.totalSteps()).isEqualTo(2);
        assertThat(r.state()).isEqualTo(RoundTrainer.State.TRAINING);
    }

    @Test
    void aRoundWhoseOpponentAnswersLikeTheHumanConverges() {
        RoundTrainer r = round(settings(new RejectionPolicy.Continue(), 100, new RoundSettings.Convergence(0.75, 4), store.root()),
                RoundEnd.GenerationProgress.NONE);
        for (int i = 0; i < 4; i++) {
            r.offer(P0, i, pair(i, "base", 0, i != 0));
        }
        r.tick();
        assertThat(r.state()).isEqualTo(RoundTrainer.State.CONVERGED);
        assertThat(r.totalSteps()).as("converged before the step").isZero();
        assertThat(transitions).containsExactly("TRAINING->CONVERGED");
    }

    @Test
    void aRestartResumesTheNewestCandidateAndEndsAsAnUninterruptedRound() {
        // Uninterrupted, in a store of its own (the same base).
        CheckpointStore solo = new CheckpointStore(dir.resolve("solo"));
        LoadedCheckpoint b = store.load("base", manager);
        solo.save(b.model(), b.tokenizerJson(), CheckpointMetadata.of("base", null, 0, 0, null, null));
        b.close();
        RoundTrainer whole = round(settings(new RejectionPolicy.Continue(), 1, new RoundSettings.Convergence(0.95, 50), solo.root()),
                RoundEnd.GenerationProgress.NONE, solo);
        offer(whole, 0, 10);
        now[0] += 1000;
        whole.tick();
        RoundListener.Candidate wholeEnd = candidates.get(candidates.size() - 1);
        candidates.clear();

        RoundTrainer crashed = round(settings(new RejectionPolicy.Continue(), 1), RoundEnd.GenerationProgress.NONE);
        offer(crashed, 0, 10);
        crashed.tick(); // steps 1 and 2 checkpointed, 2 pairs buffered: then the process dies
        assertThat(candidates).extracting(c -> c.metadata().id()).containsExactly("t-r0-s1", "t-r0-s2");
        RoundPlan plan = RoundPlan.of(store, opponent(), false);
        assertThat(plan.resume()).hasValueSatisfying(m -> assertThat(m.id()).isEqualTo("t-r0-s2"));
        assertThat(plan.readFrom()).as("the first pair not in the weights").isEqualTo(Map.of(P0, 8L));
        List<RoundListener.Candidate> resumed = new ArrayList<>();
        RoundTrainer again = new RoundTrainer(plan, settings(new RejectionPolicy.Continue(), 1), store,
                new RoundEnd(clock, 1000, RoundEnd.GenerationProgress.NONE), manager, List.of(recorder, new RoundListener() {
            @Override
            public void onResumed(RoundTrainer round, Candidate c) {
                resumed.add(c);
            }
        }));
        open.add(again);
        assertThat(resumed).extracting(c -> c.metadata().id()).containsExactly("t-r0-s2");
        assertThat(again.totalSteps()).isEqualTo(2);
        assertThat(again.pairsTrained()).isEqualTo(8);
        offer(again, 8, 10);
        now[0] += 1000;
        again.tick();
        RoundListener.Candidate end = candidates.get(candidates.size() - 1);
        assertThat(end.metadata().id()).isEqualTo("t-r0-s3").isEqualTo(wholeEnd.metadata().id().replace("t-", "t-"));
        assertThat(end.metadata().metrics().get("pairs_trained")).isEqualTo(10.0);
        assertThat(end.metadata().offsets()).isEqualTo(wholeEnd.metadata().offsets());
        SpinFixtures.WeightDifference largest = largestDifference(end, wholeEnd);
        assertThat(largest.difference()).as("largest difference at %s", largest).isLessThan(1e-6);
    }

    @Test
    void aRestartAfterARollbackKeepsItsLearningRateAndDoesNotRollBackAgain() {
        RoundTrainer r = round(settings(new RejectionPolicy.Rollback(1, 0.5), 100), RoundEnd.GenerationProgress.NONE);
        offer(r, 0, 4);
        now[0] += 1000;
        r.tick();
        assertThat(r.rejections(1)).isTrue();
        offer(r, 0, 4);
        now[0] += 1000;
        r.tick();
        RoundTrainer again = round(settings(new RejectionPolicy.Rollback(1, 0.5), 100), RoundEnd.GenerationProgress.NONE);
        assertThat(again.learningRate()).isEqualTo(5e-4);
        assertThat(again.rejections(1)).as("the replayed rejection was handled before the restart").isFalse();
        assertThat(again.rejections(2)).isTrue();
        assertThat(again.learningRate()).isEqualTo(2.5e-4);
    }

    static RoundSettings lora(RoundSettings s) {
        return new RoundSettings(s.training().withLora(io.spinstream.model.lora.LoraConfig.of(4, 8), io.spinstream.model.Precision.FLOAT32),
                s.checkpointing(), s.convergence(), s.policy(), s.includePreviousRound(), s.template(), s.progressMs());
    }

    @Test
    void aLoraRoundWritesPeftAdaptersOverTheOpponentAndResumesThemExactly() throws Exception {
        CheckpointStore solo = new CheckpointStore(dir.resolve("solo"));
        try (LoadedCheckpoint b = store.load("base", manager)) {
            solo.save(b.model(), b.tokenizerJson(), CheckpointMetadata.of("base", null, 0, 0, null, null));
        }
        RoundTrainer whole = round(lora(settings(new RejectionPolicy.Continue(), 1, new RoundSettings.Convergence(0.95, 50),
                solo.root())), RoundEnd.GenerationProgress.NONE, solo);
        offer(whole, 0, 10);
        now[0] += 1000;
        whole.tick();
        RoundListener.Candidate wholeEnd = candidates.get(candidates.size() - 1);
        assertThat(wholeEnd.metadata().isAdapter()).isTrue();
        assertThat(wholeEnd.metadata().baseId()).isEqualTo("base");
        assertThat(wholeEnd.directory().resolve("adapter_config.json")).exists();
        assertThat(wholeEnd.directory().resolve("model.safetensors")).doesNotExist();
        assertThat(java.nio.file.Files.size(wholeEnd.directory().resolve("adapter_model.safetensors")))
                .isLessThan(java.nio.file.Files.size(solo.directoryOf("base").resolve("model.safetensors")));
        try (LoadedCheckpoint merged = CheckpointStore.load(wholeEnd.directory(), manager);
             LoadedCheckpoint opponent = solo.load("base", manager)) {
            assertThat(difference(merged.model(), opponent.model())).as("the adapter trained something").isGreaterThan(1e-5);
        }
        candidates.clear();

        RoundTrainer crashed = round(lora(settings(new RejectionPolicy.Continue(), 1)), RoundEnd.GenerationProgress.NONE);
        offer(crashed, 0, 10);
        crashed.tick();
        assertThat(candidates).extracting(c -> c.metadata().id()).containsExactly("t-r0-s1", "t-r0-s2");
        RoundTrainer again = round(lora(settings(new RejectionPolicy.Continue(), 1)), RoundEnd.GenerationProgress.NONE);
        assertThat(again.totalSteps()).isEqualTo(2);
        offer(again, 8, 10);
        now[0] += 1000;
        again.tick();
        RoundListener.Candidate end = candidates.get(candidates.size() - 1);
        assertThat(end.metadata().id()).isEqualTo("t-r0-s3");
        SpinFixtures.WeightDifference resumed = largestDifference(end, wholeEnd);
        assertThat(resumed.difference()).as("resumed = uninterrupted, largest at %s", resumed).isLessThan(1e-6);

        // A rollback under LoRA is a fresh adapter: θ is the opponent again.
        RoundTrainer rolled = round(lora(settings(new RejectionPolicy.Rollback(1, 0.5), 100)), RoundEnd.GenerationProgress.NONE);
        assertThat(rolled.rejections(1)).isTrue();
        assertThat(rolled.totalSteps()).isEqualTo(3);
    }

    private static double difference(LlamaModel a, LlamaModel b) {
        return SpinFixtures.maxWeightDifference(a, b);
    }

    private double maxDifference(RoundListener.Candidate a, RoundListener.Candidate b) {
        return largestDifference(a, b).difference();
    }

    /** Where two candidates' weights differ most: the parameter, the element and the two values there. */
    private SpinFixtures.WeightDifference largestDifference(RoundListener.Candidate a, RoundListener.Candidate b) {
        try (NDManager m = NDManager.newBaseManager(); LoadedCheckpoint ca = CheckpointStore.load(a.directory(), m);
             LoadedCheckpoint cb = CheckpointStore.load(b.directory(), m)) {
            return SpinFixtures.largestWeightDifference(ca.model(), cb.model());
        }
    }
}
