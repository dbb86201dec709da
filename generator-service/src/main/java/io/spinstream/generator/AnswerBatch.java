package io.spinstream.generator;

import ai.djl.ndarray.NDManager;
import io.spinstream.runtime.http.JsonEndpoint;
import io.spinstream.runtime.opponent.PromptAnswerer;
import io.spinstream.runtime.reward.RewardStep;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What the generator makes of a batch of prompts, apart from Kafka: each prompt answered by the opponent and
 * rewarded, held out (the gate's or the test's share), or refused with the reason its record is a dead letter.
 * An unreachable model server or reward model throws (transient: the whole batch is read again).
 */
public final class AnswerBatch {

    /** A prompt as it was read: the record's key beside its value. */
    public record Asked(String key, Prompt prompt) {
    }

    /** What became of one prompt. */
    public sealed interface Outcome {
        record Answered(SyntheticResponse answer) implements Outcome {
        }

        record HeldOut() implements Outcome {
        }

        record Refused(String reason) implements Outcome {
        }
    }

    private final PromptAnswerer answerer;
    private final HeldOutSplit split;
    private final RewardStep rewards;
    private final int rows;
    private final GeneratorMetrics metrics;

    /** @param rows the model's batch: prompts answered at once, the rest refilling rows whose answers finished */
    public AnswerBatch(PromptAnswerer answerer, HeldOutSplit split, RewardStep rewards, int rows, GeneratorMetrics metrics) {
        this.answerer = answerer;
        this.split = split;
        this.rewards = rewards;
        this.rows = rows;
        this.metrics = metrics;
    }

    /** One outcome per prompt, in their order. */
    public List<Outcome> answer(NDManager manager, List<Asked> asked) {
        Outcome[] outcomes = new Outcome[asked.size()];
        List<Integer> toAnswer = new ArrayList<>();
        for (int i = 0; i < asked.size(); i++) {
            Prompt p = asked.get(i).prompt();
            if (!p.getPromptId().equals(asked.get(i).key())) {
                // Answers are keyed by prompt_id and joined by record key: a mismatch would pair the wrong texts.
                outcomes[i] = new Outcome.Refused("record key '" + asked.get(i).key() + "' is not the prompt's prompt_id '"
                        + p.getPromptId() + "'");
            } else if (!split.isTraining(p.getPromptId())) {
                outcomes[i] = new Outcome.HeldOut();
            } else {
                String problem = answerer.invalid(p);
                if (problem == null) {
                    problem = rewards.invalid(p);
                }
                if (problem != null) {
                    outcomes[i] = new Outcome.Refused(problem);
                } else {
                    toAnswer.add(i);
                }
            }
        }
        if (!toAnswer.isEmpty()) {
            List<Prompt> prompts = toAnswer.stream().map(i -> asked.get(i).prompt()).toList();
            List<PromptAnswerer.Answered> made = metrics.modelTime().record(() -> answerer.answerEach(manager, prompts, rows));
            for (int k = 0; k < made.size(); k++) {
                outcomes[toAnswer.get(k)] = rewarded(prompts.get(k), made.get(k));
            }
        }
        return Arrays.asList(outcomes);
    }

    private Outcome rewarded(Prompt p, PromptAnswerer.Answered made) {
        return switch (made) {
            case PromptAnswerer.Answered.Refused r -> new Outcome.Refused(r.reason());
            case PromptAnswerer.Answered.Made m -> {
                try {
                    yield new Outcome.Answered(rewards.reward(p, m.response()));
                } catch (JsonEndpoint.Refused e) {
                    yield new Outcome.Refused(e.getMessage());
                }
            }
        };
    }
}
