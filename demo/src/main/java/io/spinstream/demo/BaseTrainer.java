package io.spinstream.demo;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.spinstream.evaluator.suite.ExactMatch;
import io.spinstream.evaluator.suite.Scoring;
import io.spinstream.evaluator.suite.Suite;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.NoGrad;
import io.spinstream.model.TokenBatch;
import io.spinstream.model.objective.Objective;
import io.spinstream.model.tokenizer.SpinTokenizer;
import io.spinstream.model.train.AdamW;
import io.spinstream.model.train.LearningRateSchedule;
import io.spinstream.model.train.PreferenceBatch;
import io.spinstream.model.train.StepResult;
import io.spinstream.model.train.TrainStep;
import io.spinstream.schemas.Prompt;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Supervised fine-tuning of the demo base until continued SFT stops improving exact match on the
 * validation prompts (early stopping with patience), the SPIN paper's starting point: a base that has
 * converged on its SFT data. The weights of the best evaluation are kept.
 */
public final class BaseTrainer {

    /**
     * @param evalEvery steps between evaluations of validation exact match
     * @param patience  evaluations without improvement before stopping
     * @param minSteps  steps before patience counts (a small model's exact match stays at 0 for a while
     *                  before it takes off; stopping there would be stopping before learning began)
     * @param minDelta  the least gain in validation exact match that counts as an improvement (smaller
     *                  gains are within the validation set's noise)
     * @param trainProbe training prompts scored at each evaluation (training-set exact match)
     */
    public record Settings(double lr, int batchSize, int evalEvery, int patience, double minDelta, int minSteps,
                           int maxSteps, int trainProbe, long seed) {
        public static Settings defaults() {
            return new Settings(3e-3, 128, 250, 4, 0.01, 4_000, 10_000, 500, 7);
        }
    }

    /** One evaluation: step, mean SFT loss since the previous one, exact match on training and validation prompts. */
    public record Point(long step, double loss, double trainEm, double validationEm) {
    }

    /** @param bestStep the step whose weights the model now holds */
    public record Result(long bestStep, double trainEm, double validationEm, long steps, List<Point> curve,
                         Duration took) {
    }

    private final Settings settings;
    private final int maxNewTokens;

    public BaseTrainer(Settings settings, int maxNewTokens) {
        this.settings = settings;
        this.maxNewTokens = maxNewTokens;
    }

    public Result train(LlamaModel model, SpinTokenizer tokenizer, List<Prompt> train, List<Prompt> validation,
                        Consumer<String> progress) {
        long started = System.nanoTime();
        List<TokenBatch.Example> examples = train.stream()
                .map(p -> tokenizer.example(p.getPrompt(), p.getHumanResponse())).toList();
        List<Prompt> probe = train.subList(0, Math.min(settings.trainProbe(), train.size()));
        List<Point> curve = new ArrayList<>();
        Random random = new Random(settings.seed());
        List<Integer> order = new ArrayList<>();
        Map<String, float[]> best = snapshot(model);
        Point bestPoint = new Point(0, Double.NaN, exactMatch(model, tokenizer, probe), exactMatch(model, tokenizer, validation));
        curve.add(bestPoint);
        int sinceBest = 0;
        double lossSum = 0;
        int lossCount = 0;
        try (TrainStep step = new TrainStep(model, Objective.parse("sft"), new AdamW(0.9, 0.999, 1e-8, 0),
                LearningRateSchedule.constant(settings.lr()), 1.0)) {
            while (step.steps() < settings.maxSteps()
                    && (step.steps() < settings.minSteps() || sinceBest < settings.patience())) {
                while (order.size() < settings.batchSize()) { // a set smaller than a batch: several epochs per batch
                    List<Integer> epoch = new ArrayList<>();
                    for (int i = 0; i < examples.size(); i++) {
                        epoch.add(i);
                    }
                    Collections.shuffle(epoch, random);
                    order.addAll(epoch);
                }
                List<TokenBatch.Example> batch = new ArrayList<>(settings.batchSize());
                for (int i = 0; i < settings.batchSize(); i++) {
                    batch.add(examples.get(order.removeFirst()));
                }
                StepResult r = step.step(List.of(PreferenceBatch.sft(batch)));
                if (!r.skipped()) {
                    lossSum += r.loss();
                    lossCount++;
                }
                if (step.steps() % settings.evalEvery() == 0) {
                    Point p = new Point(step.steps(), lossSum / Math.max(1, lossCount),
                            exactMatch(model, tokenizer, probe), exactMatch(model, tokenizer, validation));
                    lossSum = 0;
                    lossCount = 0;
                    curve.add(p);
                    boolean improved = p.validationEm() > bestPoint.validationEm() + settings.minDelta()
                            || bestPoint.step() == 0 && p.validationEm() > bestPoint.validationEm();
                    if (improved) {
                        bestPoint = p;
                        best = snapshot(model);
                        sinceBest = 0;
                    } else if (step.steps() >= settings.minSteps()) {
                        sinceBest++;
                    }
                    double secs = (System.nanoTime() - started) / 1e9;
                    progress.accept(String.format(java.util.Locale.ROOT,
                            "base sft: step %d loss %.4f train_em %.3f validation_em %.3f (best %.3f at %d) %.1f steps/s%s",
                            p.step(), p.loss(), p.trainEm(), p.validationEm(), bestPoint.validationEm(), bestPoint.step(),
                            step.steps() / secs, improved ? "" : " no improvement " + sinceBest + "/" + settings.patience()));
                }
            }
            restore(model, best);
            return new Result(bestPoint.step(), bestPoint.trainEm(), bestPoint.validationEm(), step.steps(), curve,
                    Duration.ofNanos(System.nanoTime() - started));
        }
    }

    /** Greedy exact match of {@code model} on {@code prompts}, scored as the evaluator's exact-match suite does. */
    public double exactMatch(LlamaModel model, SpinTokenizer tokenizer, List<Prompt> prompts) {
        double[] em = exactMatches(model, tokenizer, prompts);
        return em == null ? Double.NaN : Suite.mean(em);
    }

    /** Per-prompt greedy exact match (1 or 0), for paired comparisons; null when no prompt is verifiable. */
    public double[] exactMatches(LlamaModel model, SpinTokenizer tokenizer, List<Prompt> prompts) {
        try (NoGrad ignored = NoGrad.enter(); NDManager scope = model.manager().newSubManager()) {
            return new ExactMatch().score(new Scoring(prompts, model, tokenizer, null, null, scope, 256,
                    maxNewTokens, done -> {
            }));
        }
    }

    private static Map<String, float[]> snapshot(LlamaModel model) {
        Map<String, float[]> out = new HashMap<>();
        model.parameters().forEach((name, a) -> out.put(name, a.toFloatArray()));
        return out;
    }

    private static void restore(LlamaModel model, Map<String, float[]> weights) {
        try (NoGrad ignored = NoGrad.enter()) {
            for (Map.Entry<String, NDArray> e : model.parameters().entrySet()) {
                e.getValue().set(weights.get(e.getKey()));
            }
        }
    }
}
