package io.spinstream.evaluator.suite;

import io.spinstream.runtime.opponent.PromptTurns;

import io.spinstream.model.LogProbs;
import io.spinstream.model.TokenBatch;
import io.spinstream.schemas.Prompt;

import java.util.List;

/**
 * Negative log-likelihood per token of the human answer (EOS included), per prompt; the metric is its
 * mean over prompts (each prompt weighs the same, as the paired test compares prompts). Lower is better.
 */
public final class HeldOutNll implements Suite {

    @Override
    public String name() {
        return "nll";
    }

    @Override
    public Metric metric() {
        return Metric.HELD_OUT_NLL;
    }

    @Override
    public double[] score(Scoring s) {
        List<Prompt> prompts = s.prompts().stream().filter(this::appliesTo).toList();
        if (prompts.isEmpty()) {
            return null;
        }
        double[] out = new double[prompts.size()];
        for (int from = 0; from < prompts.size(); from += s.batchSize()) {
            List<TokenBatch.Example> batch = prompts.subList(from, Math.min(prompts.size(), from + s.batchSize())).stream()
                    .map(p -> s.tokenizer().example(PromptTurns.of(p), p.getHumanResponse())).toList();
            TokenBatch tb = TokenBatch.of(batch, s.model().config().padTokenId());
            double[] logp = LogProbs.sums(s.model(), s.manager(), tb);
            for (int i = 0; i < batch.size(); i++) {
                out[from + i] = -logp[i] / batch.get(i).response().length;
            }
            s.progress().accept(Math.min(prompts.size(), from + s.batchSize()));
        }
        return out;
    }
}
