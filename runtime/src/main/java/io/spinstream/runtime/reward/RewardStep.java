package io.spinstream.runtime.reward;

import io.spinstream.schemas.CandidateSample;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Scores every answer of a prompt before it is written, so rewards travel in the records: the verifier of
 * the prompt's task metadata ({@link Verifiers}), or a reward model served elsewhere ({@link Remote}).
 * An answer's samples each get their reward; its response is sample 0, so it gets sample 0's.
 */
public sealed interface RewardStep {

    /** The default: the prompt's own verifier where its metadata gives one; otherwise no reward (null). */
    RewardStep VERIFIER = new Verifiers();

    /**
     * Why the prompt cannot be rewarded (its record belongs to the dead letters), or null when it can.
     */
    String invalid(Prompt p);

    /**
     * {@code answer} with its rewards.
     *
     * @throws io.spinstream.runtime.http.JsonEndpoint.Refused     the reward model refused these responses: the prompt's record is a dead letter
     * @throws io.spinstream.runtime.http.JsonEndpoint.Unavailable the reward model could not be reached: transient, try the batch again later
     */
    SyntheticResponse reward(Prompt p, SyntheticResponse answer);

    /** A name for logs: "verifier" or the reward model's URL. */
    String describe();

    record Verifiers() implements RewardStep {
        @Override
        public String invalid(Prompt p) {
            try {
                Verifier.of(p);
                return null;
            } catch (IllegalArgumentException e) {
                return e.getMessage();
            }
        }

        @Override
        public SyntheticResponse reward(Prompt p, SyntheticResponse answer) {
            Optional<Verifier> verifier = Verifier.of(p);
            if (verifier.isEmpty()) {
                return answer;
            }
            List<String> responses = responses(answer);
            double[] scores = responses.stream().mapToDouble(r -> verifier.get().reward(r)).toArray();
            return withRewards(answer, scores);
        }

        @Override
        public String describe() {
            return "verifier";
        }
    }

    /** Every prompt's K responses in one request to the reward model; no prompt metadata is needed. */
    record Remote(HttpRewardModel model) implements RewardStep {
        @Override
        public String invalid(Prompt p) {
            return null;
        }

        @Override
        public SyntheticResponse reward(Prompt p, SyntheticResponse answer) {
            return withRewards(answer, model.score(p.getPromptId(), p.getPrompt(), responses(answer)));
        }

        @Override
        public String describe() {
            return "reward model " + model.url();
        }
    }

    /** The answer's responses in sample order: its samples, or its one response when K = 1. */
    static List<String> responses(SyntheticResponse answer) {
        return answer.getSamples().isEmpty() ? List.of(answer.getResponse())
                : answer.getSamples().stream().map(CandidateSample::getResponse).toList();
    }

    private static SyntheticResponse withRewards(SyntheticResponse answer, double[] scores) {
        SyntheticResponse out = SyntheticResponse.newBuilder(answer).setReward(scores[0]).build();
        if (!answer.getSamples().isEmpty()) {
            List<CandidateSample> samples = new ArrayList<>();
            for (int k = 0; k < scores.length; k++) {
                samples.add(CandidateSample.newBuilder(answer.getSamples().get(k)).setReward(scores[k]).build());
            }
            out.setSamples(samples);
        }
        return out;
    }
}
