package io.spinstream.trainer.round;

import io.spinstream.model.TokenBatch;
import io.spinstream.model.tokenizer.ChatMessage;
import io.spinstream.model.tokenizer.SpinTokenizer;
import io.spinstream.schemas.TrainingPair;

import java.util.List;

/** Sorts a round's pairs: its own (and round t−1's when asked) to train, others stale, untrainable ones invalid. */
public final class PairIntake {
    private final String opponentId;
    private final int round;
    private final String previousOpponentId;
    private final SpinTokenizer tokenizer;
    private final int context;

    public PairIntake(String opponentId, int round, String previousOpponentId, SpinTokenizer tokenizer, int context) {
        this.opponentId = opponentId;
        this.round = round;
        this.previousOpponentId = previousOpponentId;
        this.tokenizer = tokenizer;
        this.context = context;
    }

    public Intake accept(PartitionKey partition, long offset, TrainingPair pair) {
        boolean current = pair.getRound() == round && pair.getOpponentId().equals(opponentId);
        boolean previous = previousOpponentId != null && pair.getRound() == round - 1
                && pair.getOpponentId().equals(previousOpponentId);
        if (!current && !previous) {
            return new Intake.Stale("pair of opponent " + pair.getOpponentId() + " round " + pair.getRound()
                    + ", the round trains against " + opponentId + " round " + round);
        }
        TokenBatch.Example chosen;
        TokenBatch.Example rejected;
        try {
            List<ChatMessage> turns = pair.getMessages() == null || pair.getMessages().isEmpty()
                    ? List.of(ChatMessage.user(pair.getPrompt()))
                    : pair.getMessages().stream().map(t -> new ChatMessage(t.getRole(), t.getContent())).toList();
            chosen = tokenizer.example(turns, pair.getHuman());
            rejected = tokenizer.example(turns, pair.getSynthetic());
        } catch (RuntimeException e) {
            return new Intake.Invalid("cannot tokenize: " + e.getMessage());
        }
        int longest = Math.max(chosen.length(), rejected.length());
        if (longest > context) {
            return new Intake.Invalid("pair of " + longest + " tokens exceeds the model's context of " + context + " positions");
        }
        return new Intake.Accepted(partition, offset, pair, chosen, rejected, !current);
    }
}
