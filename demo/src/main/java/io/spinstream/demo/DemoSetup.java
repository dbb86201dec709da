package io.spinstream.demo;

import io.spinstream.runtime.SpinContext;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.Prompt;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;

/** What the demo is made of: the task, its stream, the model and how its base is trained. */
public record DemoSetup(ArithmeticTask task, String stream, DemoModel model, BaseTrainer.Settings sft, HeldOutSplit split) {

    public static DemoSetup defaults() {
        return new DemoSetup(new ArithmeticTask(4, 10000, 500, 1, true), "arith", DemoModel.defaults(),
                // held out 20% (about 2,000 prompts: the gate detects about two points of exact match), test 10%
                BaseTrainer.Settings.defaults(), new HeldOutSplit(0.2, "spin", 0.1));
    }

    /**
     * The services' settings the demo runs with (chosen with {@code spin bench ablation}; see README):
     * SPIN with an NLL term, opponent answers sampled at temperature 1, a gate on held-out exact match
     * that also refuses a worse held-out NLL, and a rejected round trained again from the opponent at half
     * the learning rate.
     */
    public static Map<String, String> serviceDefaults() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("spin.generator.batch.size", "64");
        m.put("spin.generator.batch.wait.ms", "100");
        m.put("spin.generator.temperature", "1.0");
        m.put("spin.generator.max.new.tokens", "8");
        m.put("spin.trainer.objective", "spin:lambda=1,alpha=1");
        m.put("spin.trainer.lr", "1e-4");
        m.put("spin.trainer.batch.size", "32");
        m.put("spin.trainer.idle.ms", "3000");
        m.put("spin.trainer.checkpoint.every.steps", "100000");
        m.put("spin.trainer.progress.ms", "10000");
        m.put("spin.trainer.rejection.policy", "rollback");
        m.put("spin.trainer.rejection.rollback.after", "1");
        m.put("spin.trainer.rejection.lr.factor", "0.5");
        m.put("spin.gate.primary", "exact_match");
        m.put("spin.gate.margin", "0");
        m.put("spin.gate.guards", "heldout_nll:0.02");
        m.put("spin.gate.min.prompts", "100");
        m.put("spin.evaluator.max.prompts", "2000");
        m.put("spin.evaluator.max.new.tokens", "8");
        m.put("spin.evaluator.batch.size", "128");
        return m;
    }

    /** The services' settings with this setup's held-out split, so that the base and the services agree on it. */
    public Map<String, String> withSplit(Map<String, String> service) {
        Map<String, String> out = new LinkedHashMap<>(service);
        out.put("spin.heldout.share", Double.toString(split.share()));
        out.put("spin.heldout.salt", split.salt());
        out.put("spin.test.share", Double.toString(split.testShare()));
        return out;
    }

    public DemoBase base() {
        return new DemoBase(task, model, sft, split);
    }

    public List<Prompt> prompts() {
        return task.examples().stream().map(e -> task.toPrompt(stream, e)).toList();
    }

    /** Publishes the task's prompts on its stream (one transaction), printing progress. */
    public List<Prompt> publish(SpinContext context, PrintStream out) {
        List<Prompt> prompts = prompts();
        long t0 = System.nanoTime();
        var topic = new io.spinstream.runtime.kafka.PromptPublisher(context).publish(stream, prompts, n -> {
            if (n % 2000 == 0) {
                out.printf("prompts: %d/%d sent%n", n, prompts.size());
            }
        });
        out.printf(Locale.ROOT, "published %d %s prompts on %s in %.1f s (%.0f%% held out for evaluation)%n",
                prompts.size(), task.kind(), topic.name(), (System.nanoTime() - t0) / 1e9, split.share() * 100);
        return prompts;
    }
}
