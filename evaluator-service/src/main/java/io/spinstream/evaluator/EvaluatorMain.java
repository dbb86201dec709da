package io.spinstream.evaluator;

import io.spinstream.evaluator.gate.PromotionGate;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.evaluator.suite.Metric;
import io.spinstream.runtime.ServiceLauncher;
import io.spinstream.runtime.config.RoundKeys;
import io.spinstream.runtime.config.ServiceConfig;

import static io.spinstream.evaluator.EvaluatorKeys.*;

/** The evaluator's container entry point. */
public final class EvaluatorMain {
    private EvaluatorMain() {
    }

    public static EvaluatorService.Settings settings(ServiceConfig c) {
        PromotionGate gate = new PromotionGate(Metric.named(c.get(PRIMARY)), c.get(MARGIN),
                PromotionGate.parseGuards(c.find(GUARDS).orElse("")) /* empty: no guards */, c.get(MIN_PROMPTS),
                c.get(CONFIDENCE), c.get(MIN_EFFECT));
        return new EvaluatorService.Settings(c.get(RoundKeys.RUN_ID), c.get(SUITES_RUN), c.get(SUITES_REQUIRED), gate,
                RoundKeys.split(c), RoundKeys.template(c), c.get(MAX_PROMPTS), c.get(MAX_NEW_TOKENS), c.get(BATCH_SIZE),
                CheckpointLocation.from(c), RoundKeys.device(c), RoundKeys.precision(c, RoundKeys.device(c)));
    }

    public static void main(String[] args) {
        ServiceLauncher.run("evaluator", EvaluatorKeys.all(),
                (context, registry) -> new EvaluatorService(context, settings(context.config()), registry));
    }
}
