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
    private final int vocabSize;

    private final boolean groups;

    /**
     * @param context   the model's positions: a longer pair is invalid
     * @param vocabSize the model's vocabulary: an answer's own token outside it is invalid
     */
    public PairIntake(String opponentId, int round, String previousOpponentId, SpinTokenizer tokenizer, int context, int vocabSize) {
        this(opponentId, round, previousOpponentId, tokenizer, context, vocabSize, false);
    }

    /** @param groups the objective trains on groups (RAFT, RRHF): a pair is also read as its samples with rewards */
    public PairIntake(String opponentId, int round, String previousOpponentId, SpinTokenizer tokenizer, int context, int vocabSize,
                      boolean groups) {
        this.groups = groups;
        this.opponentId = opponentId;
        this.round = round;
        this.previousOpponentId = previousOpponentId;
        this.tokenizer = tokenizer;
        this.context = context;
        this.vocabSize = vocabSize;
    }

    public Intake accept(PartitionKey partition, long offset, TrainingPair pair) {
        boolean current = pair.getRound() == round && pair.getOpponentId().equals(opponentId);
        boolean previous = previousOpponentId != null && pair.getRound() == round - 1
                && pair.getOpponentId().equals(previousOpponentId);
        if (!current && !previous) {
            return new Intake.Stale("pair of opponent " + pair.getOpponentId() + " round " + pair.getRound()
                    + ", the round trains against " + opponentId + " round " + round);
        }
        if (pair.getHuman() == null && !groups) {
            return new Intake.Unlabelled(pair.getPromptId());
        }
        TokenBatch.Example chosen;
        TokenBatch.Example rejected;
        try {
            List<ChatMessage> turns = turnsOf(pair);
            chosen = pair.getHuman() == null ? null : tokenizer.example(turns, pair.getHuman());
            rejected = answer(turns, pair.getSynthetic(), pair.getSyntheticTokenIds());
        } catch (RuntimeException e) {
            return new Intake.Invalid("cannot tokenize: " + e.getMessage());
        }
        int longest = Math.max(chosen == null ? 0 : chosen.length(), rejected.length());
        if (longest > context) {
            return new Intake.Invalid("pair of " + longest + " tokens exceeds the model's context of " + context + " positions");
        }
        Intake.Group group = null;
        if (groups) {
            try {
                group = group(turnsOf(pair), pair, chosen);
            } catch (IllegalArgumentException e) {
                return new Intake.Invalid(e.getMessage());
            } catch (RuntimeException e) {
                return new Intake.Invalid("cannot tokenize a sample: " + e.getMessage());
            }
            int longestCandidate = group.candidates().stream().mapToInt(TokenBatch.Example::length).max().orElse(0);
            if (longestCandidate > context) {
                return new Intake.Invalid("a sample of " + longestCandidate + " tokens exceeds the model's context of " + context
                        + " positions");
            }
        }
        return new Intake.Accepted(partition, offset, pair, chosen, rejected, !current, group);
    }

    private static List<ChatMessage> turnsOf(TrainingPair pair) {
        return pair.getMessages() == null || pair.getMessages().isEmpty()
                ? List.of(ChatMessage.user(pair.getPrompt()))
                : pair.getMessages().stream().map(t -> new ChatMessage(t.getRole(), t.getContent())).toList();
    }

    /**
     * The human answer (with the samples' highest reward: it joins the best, as RRHF has it) and the K samples
     * (the synthetic answer alone for K = 1) with their rewards; a sample without a reward cannot be ranked.
     * An unlabelled prompt's group is its samples alone.
     */
    private Intake.Group group(List<ChatMessage> turns, TrainingPair pair, TokenBatch.Example human) {
        List<TokenBatch.Example> answers = new java.util.ArrayList<>();
        List<Double> rewards = new java.util.ArrayList<>();
        if (pair.getSamples() == null || pair.getSamples().isEmpty()) {
            answers.add(answer(turns, pair.getSynthetic(), pair.getSyntheticTokenIds()));
            rewards.add(pair.getSyntheticReward());
        } else {
            pair.getSamples().forEach(s -> {
                answers.add(answer(turns, s.getResponse(), s.getResponseTokenIds()));
                rewards.add(s.getReward());
            });
        }
        if (rewards.stream().anyMatch(java.util.Objects::isNull)) {
            throw new IllegalArgumentException("a group objective needs a reward for every sample, and this pair has none"
                    + " (its prompt's task is not verifiable: mark it verifiable or give task.attributes.verify)");
        }
        List<TokenBatch.Example> candidates = new java.util.ArrayList<>();
        int first = human == null ? 0 : 1;
        double[] r = new double[answers.size() + first];
        if (human != null) {
            candidates.add(human);
            r[0] = rewards.stream().mapToDouble(Double::doubleValue).max().orElse(0);
        }
        for (int i = 0; i < answers.size(); i++) {
            candidates.add(answers.get(i));
            r[i + first] = rewards.get(i);
        }
        return new Intake.Group(candidates, r);
    }

    /**
     * An opponent's answer as the trainer trains on it: its own tokens when the generator published them (the
     * opponent's log-prob is of those), else its text encoded.
     */
    private TokenBatch.Example answer(List<ChatMessage> turns, String text, List<Integer> ownTokens) {
        if (ownTokens == null) {
            return tokenizer.example(turns, text);
        }
        int[] ids = new int[ownTokens.size()];
        for (int i = 0; i < ids.length; i++) {
            int id = ownTokens.get(i);
            if (id < 0 || id >= vocabSize) {
                throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + vocabSize);
            }
            ids[i] = id;
        }
        return tokenizer.example(turns, ids);
    }
}
