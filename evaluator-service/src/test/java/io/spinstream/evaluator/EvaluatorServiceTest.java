package io.spinstream.evaluator;

import ai.djl.ndarray.NDManager;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.spinstream.devstack.DevStack;
import io.spinstream.devstack.BrokerTest;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.TokenBatch;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.objective.Sft;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.model.tokenizer.SpinTokenizer;
import io.spinstream.model.train.AdamW;
import io.spinstream.model.train.LearningRateSchedule;
import io.spinstream.model.train.PreferenceBatch;
import io.spinstream.model.train.TrainStep;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.health.MetricsServer;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.CheckpointEvent;
import io.spinstream.schemas.Evaluation;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.Verdict;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

@BrokerTest
class EvaluatorServiceTest {

    static CheckpointEvent event(SpinFixtures f, CheckpointMetadata ckpt, String parent) {
        return CheckpointEvent.newBuilder().setCheckpointId(ckpt.id()).setParentOpponentId(parent).setRound(0).setStep(10)
                .setUri(f.store.directoryOf(ckpt.id()).toUri().toString()).setSha256(ckpt.sha256())
                .setCreatedAt(Instant.now()).build();
    }

    static void publish(SpinFixtures f, CheckpointEvent e) throws Exception {
        try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(f.kafka.idempotentProducer())) {
            p.send(new ProducerRecord<>(f.topics.checkpoints().name(), e.getCheckpointId().getBytes(StandardCharsets.UTF_8),
                    f.topics.checkpoints().serializeValue(e))).get();
        }
    }

    /** 50 verifiable sums on one stream; returns the held-out ones (share 0.5). */
    static List<Prompt> produceSums(SpinFixtures f) throws Exception {
        List<Prompt> prompts = IntStream.range(0, 50).mapToObj(i -> SpinFixtures.prompt("arith", "q" + i,
                i + "+" + i + "=", String.valueOf(2 * i))).toList();
        f.produce("arith", prompts, List.of());
        HeldOutSplit split = new HeldOutSplit(0.5, "spin");
        return prompts.stream().filter(p -> split.isHeldOut(p.getPromptId())).toList();
    }

    static LlamaModel fineTuned(SpinFixtures f, NDManager m, List<Prompt> prompts, boolean wrong) {
        LlamaModel model = SpinFixtures.tinyModel(m, 1);
        try (SpinTokenizer tok = SpinTokenizer.load(f.tokenizerOf("base"), PromptTemplate.PLAIN, 2);
             TrainStep step = new TrainStep(model, new Sft(), new AdamW(0.9, 0.999, 1e-8, 0),
                     LearningRateSchedule.constant(3e-3), 1.0)) {
            List<TokenBatch.Example> ex = prompts.stream()
                    .map(p -> tok.example(p.getPrompt(), wrong ? "zzzz" : p.getHumanResponse())).toList();
            for (int i = 0; i < 40; i++) {
                step.step(List.of(PreferenceBatch.sft(ex)));
            }
        }
        return model;
    }

    @Test
    void aBetterCandidateIsPromotedAWorseOrCorruptOneRejectedAndARepeatedEventPromotesNothing(DevStack stack,
                                                                                             @TempDir Path dir) throws Exception {
        SpinFixtures f = new SpinFixtures(stack, dir.resolve("store"), EvaluatorKeys.all(), Map.of(
                "SPIN_HELDOUT_SHARE", "0.5", "SPIN_GATE_MIN_PROMPTS", "10", "SPIN_EVALUATOR_MAX_NEW_TOKENS", "6",
                "SPIN_GATE_GUARDS", "exact_match:0.05"));
        List<Prompt> heldOut = produceSums(f);

        CheckpointMetadata base;
        CheckpointMetadata better;
        CheckpointMetadata worse;
        CheckpointMetadata broken;
        try (NDManager m = NDManager.newBaseManager()) {
            try (LlamaModel model = SpinFixtures.tinyModel(m, 1)) {
                base = f.checkpoint("base", null, model);
            }
            // Better: the base fine-tuned on the held-out answers, so its held-out NLL must fall;
            // worse: fine-tuned on wrong answers, so it must rise.
            better = f.checkpoint("better", "base", fineTuned(f, m, heldOut, false));
            worse = f.checkpoint("worse", "base", fineTuned(f, m, heldOut, true));
            try (LlamaModel model = SpinFixtures.tinyModel(m, 5)) {
                broken = f.checkpoint("broken", "base", model);
            }
        }
        Path weights = f.store.directoryOf("broken").resolve("model.safetensors");
        byte[] b = Files.readAllBytes(weights);
        b[b.length - 2] ^= 0x40;
        Files.write(weights, b);
        f.promote(base, 0);

        ServiceConfig config = f.config(Map.of());
        PrometheusMeterRegistry registry = MetricsServer.newRegistry();
        EvaluatorService service = new EvaluatorService(SpinContext.from(config), EvaluatorMain.settings(config), registry);
        service.start();
        try {
            long t0 = System.nanoTime();
            publish(f, event(f, worse, "base"));
            List<Evaluation> evs = f.read(f.topics.evaluations(), l -> l.size() >= 1, Duration.ofSeconds(120));
            System.out.printf("one evaluation (candidate and opponent, %d held-out prompts, all suites): %.1f s%n",
                    heldOut.size(), (System.nanoTime() - t0) / 1e9);
            Evaluation rejected = evs.get(0);
            assertThat(rejected.getCheckpointId()).isEqualTo("worse");
            assertThat(rejected.getVerdict()).isEqualTo(Verdict.REJECT);
            assertThat(rejected.getHeldOutPrompts()).isEqualTo(heldOut.size());
            assertThat(rejected.getMetrics().get("heldout_nll")).isGreaterThan(rejected.getBaselineMetrics().get("heldout_nll"));
            assertThat(rejected.getReasons()).anyMatch(r -> r.startsWith("heldout_nll -") && r.contains("not significant at 0.95"));
            // The paired test behind it: every held-out prompt, the improvement inside its interval, far from significant.
            var nll = rejected.getTests().get("heldout_nll");
            assertThat(nll.getN()).isEqualTo(heldOut.size());
            assertThat(nll.getImprovement()).isNegative().isBetween(nll.getCiLow(), nll.getCiHigh());
            assertThat(nll.getPValue()).isGreaterThan(0.5);
            assertThat(nll.getMethod()).isEqualTo("paired-t");
            assertThat(rejected.getMetrics()).containsKeys("heldout_nll", "exact_match");
            assertThat(rejected.getBaselineMetrics()).containsEntry("preference_accuracy", 0.5);

            // better's files are not there yet when its event comes (a copy to a shared volume in progress): the
            // evaluator tries again instead of judging it INVALID.
            Path betterDir = f.store.directoryOf("better");
            Path arriving = betterDir.resolveSibling("better.arriving");
            Files.move(betterDir, arriving);
            publish(f, event(f, broken, "base"));
            publish(f, event(f, better, "base"));
            long waitUntil = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (registry.counter("spin.evaluator.transient.faults").count() < 1 && System.nanoTime() < waitUntil) {
                Thread.sleep(100);
            }
            assertThat(registry.counter("spin.evaluator.transient.faults").count()).as("better's files were missing").isPositive();
            Files.move(arriving, betterDir);
            evs = f.read(f.topics.evaluations(), l -> l.size() >= 3, Duration.ofSeconds(120));
            Evaluation invalid = evs.get(1);
            assertThat(invalid.getVerdict()).isEqualTo(Verdict.INVALID);
            assertThat(invalid.getReasons()).singleElement().asString().contains("candidate refused").contains("is corrupt: sha256");
            Evaluation promoted = evs.get(2);
            assertThat(promoted.getCheckpointId()).isEqualTo("better");
            assertThat(promoted.getVerdict()).as("%s", promoted.getReasons()).isEqualTo(Verdict.PROMOTE);
            assertThat(promoted.getMetrics().get("heldout_nll")).isLessThan(promoted.getBaselineMetrics().get("heldout_nll"));
            assertThat(promoted.getMetrics().get("preference_accuracy")).isGreaterThan(0.5);

            List<OpponentPromotion> opponents = f.read(f.topics.opponent(), l -> l.size() >= 2, Duration.ofSeconds(30));
            assertThat(opponents).extracting(OpponentPromotion::getCheckpointId).containsExactly("base", "better");
            assertThat(opponents.get(1).getRound()).isEqualTo(1);
            assertThat(opponents.get(1).getEvaluation().getVerdict()).isEqualTo(Verdict.PROMOTE);

            // The same event again: no second evaluation, no second promotion.
            publish(f, event(f, better, "base"));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (registry.counter("spin.evaluator.duplicates").count() < 1 && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertThat(registry.counter("spin.evaluator.duplicates").count()).isEqualTo(1);
            assertThat(f.readAll(f.topics.evaluations())).hasSize(3);
            assertThat(f.readAll(f.topics.opponent())).hasSize(2);
            assertThat(registry.scrape()).contains("spin_evaluator_metric{", "spin_evaluator_evaluations_total");
        } finally {
            service.stop();
        }
        assertThat(service.failure()).isNull();
    }

    @Test
    void evaluatorsSplittingTheSuitesPromoteOnceEveryRequiredSuitePassed(DevStack stack, @TempDir Path dir) throws Exception {
        SpinFixtures f = new SpinFixtures(stack, dir.resolve("store"), EvaluatorKeys.all(), Map.of(
                "SPIN_HELDOUT_SHARE", "0.5", "SPIN_GATE_MIN_PROMPTS", "10", "SPIN_EVALUATOR_MAX_NEW_TOKENS", "6",
                "SPIN_EVALUATOR_REQUIRED_SUITES", "nll,exact_match", "SPIN_GATE_GUARDS", ""));
        List<Prompt> heldOut = produceSums(f);
        CheckpointMetadata base;
        CheckpointMetadata better;
        try (NDManager m = NDManager.newBaseManager()) {
            try (LlamaModel model = SpinFixtures.tinyModel(m, 1)) {
                base = f.checkpoint("base", null, model);
            }
            better = f.checkpoint("better", "base", fineTuned(f, m, heldOut, false));
        }
        f.promote(base, 0);
        // One instance scores NLL (primary: held-out NLL), the other exact match (primary: exact match).
        ServiceConfig nllConfig = f.config(Map.of("SPIN_EVALUATOR_SUITES", "nll", "SPIN_INSTANCE_ID", "eval-nll"));
        ServiceConfig emConfig = f.config(Map.of("SPIN_EVALUATOR_SUITES", "exact_match", "SPIN_INSTANCE_ID", "eval-em",
                "SPIN_GATE_PRIMARY", "exact_match"));
        EvaluatorService nll = new EvaluatorService(SpinContext.from(nllConfig), EvaluatorMain.settings(nllConfig),
                MetricsServer.newRegistry());
        EvaluatorService em = new EvaluatorService(SpinContext.from(emConfig), EvaluatorMain.settings(emConfig),
                MetricsServer.newRegistry());
        nll.start();
        em.start();
        try {
            publish(f, event(f, better, "base"));
            List<Evaluation> evs = f.read(f.topics.evaluations(), l -> l.size() >= 2, Duration.ofSeconds(120));
            assertThat(evs).extracting(Evaluation::getSuite).containsExactlyInAnyOrder("nll", "exact_match");
            assertThat(evs).allMatch(e -> e.getVerdict() == Verdict.PROMOTE);
            // The first to finish waits for the other; the second promotes.
            assertThat(evs.get(0).getReasons()).anyMatch(r -> r.contains("promotion waits for the required suites"));
            List<OpponentPromotion> opponents = f.read(f.topics.opponent(), l -> l.size() >= 2, Duration.ofSeconds(30));
            opponents = f.readAllAfter(f.topics.opponent(), Duration.ofSeconds(3));
            assertThat(opponents).extracting(OpponentPromotion::getCheckpointId).containsExactly("base", "better");
        } finally {
            nll.stop();
            em.stop();
        }
    }
}
