package io.spinstream.evaluator.suite;

import io.spinstream.runtime.opponent.PromptTurns;

import io.spinstream.model.LogProbs;
import io.spinstream.model.TokenBatch;
import io.spinstream.schemas.Prompt;

import java.util.ArrayList;
import java.util.List;

/**
 * Share of held-out prompts on which the candidate's log-prob margin over the opponent prefers the human
 * answer y to the opponent's own answer y': (log p_c(y) − log p_o(y)) − (log p_c(y') − log p_o(y')) > 0.
 * Prompts the opponent answered exactly like the human carry no signal and are left out. The opponent
 * against itself has a margin of 0 everywhere; its baseline is chance, 0.5.
 */
public final class PreferenceAccuracy implements Suite {

    @Override
    public String name() {
        return "preference";
    }

    @Override
    public Metric metric() {
        return Metric.PREFERENCE_ACCURACY;
    }

    @Override
    public double[] baseline(Scoring opponentScoring) {
        int n = used(opponentScoring).size();
        if (n == 0) {
            return null;
        }
        double[] chance = new double[n];
        java.util.Arrays.fill(chance, 0.5);
        return chance;
    }

    /** The prompts it applies to whose opponent answer differs from the human one (the others carry no preference). */
    private List<Integer> used(Scoring s) {
        OpponentAnswers o = s.opponentAnswers();
        List<Integer> used = new ArrayList<>();
        for (int i = 0; i < s.prompts().size(); i++) {
            Prompt p = s.prompts().get(i);
            if (appliesTo(p) && !ExactMatch.normalise(o.answers()[i]).equals(ExactMatch.normalise(p.getHumanResponse()))) {
                used.add(i);
            }
        }
        return used;
    }

    @Override
    public double[] score(Scoring s) {
        OpponentAnswers o = s.opponentAnswers();
        List<Integer> used = used(s);
        if (used.isEmpty()) {
            return null;
        }
        double[] out = new double[used.size()];
        for (int from = 0; from < used.size(); from += s.batchSize()) {
            List<Integer> chunk = used.subList(from, Math.min(used.size(), from + s.batchSize()));
            List<TokenBatch.Example> examples = new ArrayList<>();
            for (int i : chunk) {
                examples.add(s.tokenizer().example(PromptTurns.of(s.prompts().get(i)), s.prompts().get(i).getHumanResponse()));
            }
            for (int i : chunk) {
                examples.add(o.example(s.tokenizer(), PromptTurns.of(s.prompts().get(i)), i));
            }
            double[] lp = LogProbs.sums(s.model(), s.manager(), examples, s.model().config().padTokenId());
            for (int j = 0; j < chunk.size(); j++) {
                int i = chunk.get(j);
                double margin = (lp[j] - o.logpHuman()[i]) - (lp[chunk.size() + j] - o.logpAnswer()[i]);
                out[from + j] = margin > 0 ? 1 : 0;
            }
            s.progress().accept(Math.min(used.size(), from + s.batchSize()));
        }
        return out;
    }
}
