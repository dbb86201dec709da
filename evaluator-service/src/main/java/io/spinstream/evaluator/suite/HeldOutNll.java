package io.spinstream.evaluator.suite;

import io.spinstream.runtime.opponent.PromptTurns;

import io.spinstream.model.LogProbs;
import io.spinstream.model.TokenBatch;
import io.spinstream.schemas.Prompt;

import java.util.List;

/** Mean negative log-likelihood per token of the human answers (EOS included). Lower is better. */
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
    public Double score(Scoring s) {
        List<Prompt> prompts = s.prompts().stream().filter(this::appliesTo).toList();
        if (prompts.isEmpty()) {
            return null;
        }
        double logp = 0;
        long tokens = 0;
        for (int from = 0; from < prompts.size(); from += s.batchSize()) {
            List<TokenBatch.Example> batch = prompts.subList(from, Math.min(prompts.size(), from + s.batchSize())).stream()
                    .map(p -> s.tokenizer().example(PromptTurns.of(p), p.getHumanResponse())).toList();
            TokenBatch tb = TokenBatch.of(batch, s.model().config().padTokenId());
            for (double v : LogProbs.sums(s.model(), s.manager(), tb)) {
                logp += v;
            }
            tokens += tb.responseTokens();
            s.progress().accept(Math.min(prompts.size(), from + s.batchSize()));
        }
        return -logp / tokens;
    }
}
