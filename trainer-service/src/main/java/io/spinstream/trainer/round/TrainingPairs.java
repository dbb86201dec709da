package io.spinstream.trainer.round;

import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
import io.spinstream.schemas.TrainingPair;

import java.time.Clock;

/** How a training pair is made of a prompt and an answer: by the trainer's joiner, and by the ablation in memory. */
public final class TrainingPairs {
    private TrainingPairs() {
    }

    /** The pair of a prompt and the opponent's answer to it (identical when the answer is the human one). */
    public static TrainingPair of(Prompt p, SyntheticResponse s, Clock clock) {
        return TrainingPair.newBuilder()
                .setPromptId(p.getPromptId())
                .setStream(p.getStream())
                .setPrompt(p.getPrompt())
                .setMessages(p.getMessages())
                .setHuman(p.getHumanResponse())
                .setSynthetic(s.getResponse())
                .setOpponentLogpHuman(s.getOpponentLogpHuman())
                .setOpponentLogpSynthetic(s.getOpponentLogpSynthetic())
                .setOpponentId(s.getOpponentId())
                .setRound(s.getRound())
                .setSamples(s.getSamples())
                .setSyntheticReward(s.getReward())
                .setSyntheticTokenIds(s.getResponseTokenIds())
                .setIdentical(p.getHumanResponse() != null && s.getResponse().equals(p.getHumanResponse()))
                .setCreatedAt(clock.instant())
                .build();
    }
}
