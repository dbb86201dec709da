package io.spinstream.evaluator.suite;

import io.spinstream.runtime.opponent.PromptTurns;

import io.spinstream.model.Generator;
import io.spinstream.model.Sampling;
import io.spinstream.schemas.Prompt;

import java.util.List;
import java.util.Locale;

/**
 * Share of verifiable prompts whose greedy answer equals the human answer after normalisation (trimmed,
 * white space collapsed, case folded). Higher is better. Applies to prompts whose task is verifiable.
 */
public final class ExactMatch implements Suite {

    @Override
    public String name() {
        return "exact_match";
    }

    @Override
    public Metric metric() {
        return Metric.EXACT_MATCH;
    }

    @Override
    public boolean appliesTo(Prompt p) {
        return p.getTask() != null && p.getTask().getVerifiable() && Suite.super.appliesTo(p);
    }

    static String normalise(String s) {
        return io.spinstream.runtime.reward.Answers.normalise(s);
    }

    @Override
    public double[] score(Scoring s) {
        List<Prompt> prompts = s.prompts().stream().filter(this::appliesTo).toList();
        if (prompts.isEmpty()) {
            return null;
        }
        Generator generator = new Generator(s.model());
        double[] out = new double[prompts.size()];
        for (int from = 0; from < prompts.size(); from += s.batchSize()) {
            List<Prompt> chunk = prompts.subList(from, Math.min(prompts.size(), from + s.batchSize()));
            List<int[]> answers = generator.generate(s.manager(),
                    chunk.stream().map(p -> s.tokenizer().encodePrompt(PromptTurns.of(p))).toList(),
                    Sampling.greedy(s.maxNewTokens()));
            for (int i = 0; i < chunk.size(); i++) {
                out[from + i] = normalise(s.tokenizer().decode(answers.get(i))).equals(normalise(chunk.get(i).getHumanResponse()))
                        ? 1 : 0;
            }
            s.progress().accept(Math.min(prompts.size(), from + s.batchSize()));
        }
        return out;
    }
}
