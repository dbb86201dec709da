package io.spinstream.demo;

import io.spinstream.runtime.SpinContext;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.Prompt;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;

/**
 * What the demo is made of: the task, its stream, the model and how its base is trained.
 *
 * @param labelled the share of training prompts that carry their human answer (1: all). Below 1 the base
 *                 is trained on the labelled ones alone and the stream carries the unlabelled rest (no
 *                 human answer; the verifier's reference answer in {@code task.attributes.answer}) with the
 *                 held-out and test prompts, which stay labelled: the setting of reward-only training
 *                 (RAFT, RRHF) after SFT on a labelled fraction
 */
public record DemoSetup(ArithmeticTask task, String stream, DemoModel model, BaseTrainer.Settings sft, HeldOutSplit split,
                        double labelled) {
    /** The salt of the labelled/unlabelled split of the training prompts (apart from the held-out split's). */
    static final String LABELLED_SALT = "labelled";

    public DemoSetup {
        if (!(labelled > 0 && labelled <= 1)) {
            throw new IllegalArgumentException("the labelled share must be in (0, 1], got " + labelled);
        }
    }

    /** Every training prompt labelled. */
    public DemoSetup(ArithmeticTask task, String stream, DemoModel model, BaseTrainer.Settings sft, HeldOutSplit split) {
        this(task, stream, model, sft, split, 1.0);
    }

    public DemoSetup withLabelled(double share) {
        return new DemoSetup(task, stream, model, sft, split, share);
    }

    /** A training prompt whose human answer the demo keeps (every held-out and test prompt is labelled). */
    public boolean isLabelled(String promptId) {
        return !split.isTraining(promptId) || labelled >= 1
                || new HeldOutSplit(0, LABELLED_SALT).fraction(promptId) < labelled;
    }

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

    /** K of the demo's group objectives when the user names none: RAFT and RRHF rank several samples per prompt. */
    static final int GROUP_SAMPLES = 4;

    /**
     * {@code service} with {@code spin.generator.samples} = {@value GROUP_SAMPLES} when its objective is a group
     * objective (raft, rrhf) and no K was given, said on {@code out}.
     */
    public static Map<String, String> withGroupSamples(Map<String, String> service, PrintStream out) {
        if (!isGroupObjective(service) || service.containsKey("spin.generator.samples")) {
            return service;
        }
        Map<String, String> withK = new LinkedHashMap<>(service);
        withK.put("spin.generator.samples", Integer.toString(GROUP_SAMPLES));
        out.println("objective " + service.get("spin.trainer.objective") + " ranks samples: spin.generator.samples=" + GROUP_SAMPLES
                + " (set it to choose another K)");
        return withK;
    }

    /**
     * Why the services' objective cannot train on this setup's stream, or null: with a labelled share below 1
     * every training prompt on the stream is unlabelled, which only a group objective trains on.
     */
    public String unfitObjective(Map<String, String> service) {
        if (labelled >= 1 || isGroupObjective(service)) {
            return null;
        }
        return "--labelled " + labelled + " leaves only unlabelled training prompts on the stream, and spin.trainer.objective="
                + service.getOrDefault("spin.trainer.objective", "spin") + " needs human answers (SPIN, DPO and SimPO skip"
                + " unlabelled prompts): use --set spin.trainer.objective=raft or rrhf";
    }

    private static boolean isGroupObjective(Map<String, String> service) {
        return io.spinstream.trainer.TrainerKeys.isGroupObjective(service.getOrDefault("spin.trainer.objective", ""));
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
        return new DemoBase(this);
    }

    /** All of the task's prompts, labelled. */
    public List<Prompt> prompts() {
        return task.examples().stream().map(e -> task.toPrompt(stream, e)).toList();
    }

    /**
     * What the stream carries: every prompt when all are labelled; else the held-out and test prompts and
     * the unlabelled training prompts without their human answer (the base was trained on the labelled ones).
     */
    public List<Prompt> published() {
        if (labelled >= 1) {
            return prompts();
        }
        return prompts().stream().filter(p -> !split.isTraining(p.getPromptId()) || !isLabelled(p.getPromptId()))
                .map(p -> isLabelled(p.getPromptId()) ? p : unlabelled(p)).toList();
    }

    private static Prompt unlabelled(Prompt p) {
        Prompt out = Prompt.newBuilder(p).setHumanResponse(null).build();
        java.util.Map<String, String> attributes = new java.util.HashMap<>(p.getTask().getAttributes());
        attributes.put("answer", p.getHumanResponse());
        out.getTask().setAttributes(attributes);
        return out;
    }

    /** Publishes the stream's prompts (one transaction), printing progress. */
    public List<Prompt> publish(SpinContext context, PrintStream out) {
        List<Prompt> prompts = published();
        long t0 = System.nanoTime();
        var topic = new io.spinstream.runtime.kafka.PromptPublisher(context).publish(stream, prompts, n -> {
            if (n % 2000 == 0) {
                out.printf("prompts: %d/%d sent%n", n, prompts.size());
            }
        });
        long unlabelled = prompts.stream().filter(p -> p.getHumanResponse() == null).count();
        out.printf(Locale.ROOT, "published %d %s prompts on %s in %.1f s (%.0f%% held out for evaluation%s)%n",
                prompts.size(), task.kind(), topic.name(), (System.nanoTime() - t0) / 1e9, split.share() * 100,
                unlabelled == 0 ? "" : String.format(Locale.ROOT, "; %d training prompts unlabelled, the verifier's reference"
                        + " answer in their task attributes", unlabelled));
        return prompts;
    }
}
