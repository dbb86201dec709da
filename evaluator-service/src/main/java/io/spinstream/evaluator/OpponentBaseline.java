package io.spinstream.evaluator;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import ai.djl.ndarray.NDManager;
import io.spinstream.evaluator.suite.OpponentAnswers;
import io.spinstream.evaluator.suite.SuiteRunner;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.Sampling;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.opponent.Opponent;
import io.spinstream.runtime.opponent.PromptAnswerer;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;

import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The opponent every candidate of a round is compared with, computed once per opponent and set of
 * held-out prompts: the loaded opponent, its own answers to the prompts (by the generator's answering
 * code, at temperature 1) and its metrics.
 */
final class OpponentBaseline implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(OpponentBaseline.class);
    private final SuiteRunner runner;
    private final PromptTemplate template;
    private final Sampling sampling;
    private final int batchSize;
    private final String instance;
    private Opponent opponent;
    private List<Prompt> read;    // the held-out prompts as read
    private List<Prompt> prompts; // those the opponent can answer: scored
    private OpponentAnswers answers;
    private Map<String, double[]> perPrompt;

    public OpponentBaseline(SuiteRunner runner, PromptTemplate template, int maxNewTokens, int batchSize, String instance) {
        this.runner = runner;
        this.template = template;
        this.sampling = new Sampling(1.0f, 1.0f, maxNewTokens, 0);
        this.batchSize = batchSize;
        this.instance = instance;
    }

    /** Loads {@code promotion}'s model and scores it on {@code heldOut}, unless that is what is loaded already. */
    public void ensure(OpponentPromotion promotion, List<Prompt> heldOut, NDManager manager, CheckpointLocation location,
                       io.spinstream.model.Precision precision) {
        boolean same = opponent != null && opponent.id().equals(promotion.getCheckpointId());
        if (same && heldOut.equals(read)) {
            return;
        }
        if (!same) {
            // A LoRA opponent over the one loaded comes as its adapter alone, merged into the model held.
            Opponent previous = opponent;
            opponent = null;
            opponent = Opponent.next(previous, promotion, manager, template, location, precision);
        }
        read = heldOut;
        prompts = answerable(heldOut);
        answers = answer(manager);
        LlamaModel model = opponent.checkpoint().model();
        perPrompt = runner.score("opponent " + opponent.id(), prompts, model, opponent.tokenizer(), model, answers, manager, true);
    }

    /**
     * The prompts the opponent can answer: one its chat template refuses, or that does not fit its context, is left
     * out of every score (and said so), rather than failing each candidate's evaluation.
     */
    private List<Prompt> answerable(List<Prompt> heldOut) {
        PromptAnswerer answerer = new PromptAnswerer(opponent, sampling, instance, Clock.systemUTC());
        List<Prompt> out = new ArrayList<>();
        for (Prompt p : heldOut) {
            String problem = answerer.invalid(p);
            if (problem == null) {
                out.add(p);
            } else {
                log.warn("held-out prompt {} is left out of the scores: {}", p.getPromptId(), problem);
            }
        }
        return out;
    }

    private OpponentAnswers answer(NDManager manager) {
        PromptAnswerer answerer = new PromptAnswerer(opponent, sampling, instance, Clock.systemUTC());
        List<SyntheticResponse> out = new ArrayList<>();
        for (int from = 0; from < prompts.size(); from += batchSize) {
            try (NDManager scope = manager.newSubManager()) {
                out.addAll(answerer.answer(scope, prompts.subList(from, Math.min(prompts.size(), from + batchSize))));
            }
        }
        return new OpponentAnswers(out.stream().map(SyntheticResponse::getResponse).toArray(String[]::new),
                out.stream().mapToDouble(SyntheticResponse::getOpponentLogpHuman).toArray(),
                out.stream().mapToDouble(SyntheticResponse::getOpponentLogpSynthetic).toArray(),
                out.stream().map(r -> r.getResponseTokenIds() == null ? null
                        : r.getResponseTokenIds().stream().mapToInt(Integer::intValue).toArray()).toArray(int[][]::new));
    }

    /** The per-prompt metrics of {@code candidate} on the same prompts, against this opponent. */
    public Map<String, double[]> score(String what, LlamaModel candidate, NDManager manager) {
        return runner.score(what, prompts, candidate, opponent.tokenizer(), opponent.checkpoint().model(), answers, manager, false);
    }

    public String opponentId() {
        return opponent == null ? null : opponent.id();
    }

    /** The opponent's estimates. */
    public Map<String, Double> metrics() {
        return SuiteRunner.means(perPrompt);
    }

    /** The opponent's per-prompt values, paired with a candidate's. */
    public Map<String, double[]> perPrompt() {
        return perPrompt;
    }

    public int prompts() {
        return prompts == null ? 0 : prompts.size();
    }

    @Override
    public void close() {
        if (opponent != null) {
            opponent.close();
            opponent = null;
        }
    }
}
