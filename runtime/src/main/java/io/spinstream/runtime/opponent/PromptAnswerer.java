package io.spinstream.runtime.opponent;

import ai.djl.ndarray.NDManager;
import io.spinstream.model.Generator;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.LogProbs;
import io.spinstream.model.Sampling;
import io.spinstream.model.TokenBatch;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SamplingSettings;
import io.spinstream.schemas.SyntheticResponse;

import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/**
 * Answers prompts with the opponent: its own answer y' (KV-cache generation, one seed per prompt), and
 * its log-probabilities of the human answer y and of y', both scored on the tokens the trainer will see
 * (the answer text re-encoded, then EOS).
 */
public final class PromptAnswerer {
    private final Opponent opponent;
    private final Sampling sampling;
    private final String instance;
    private final Clock clock;

    public PromptAnswerer(Opponent opponent, Sampling sampling, String instance, Clock clock) {
        this.opponent = opponent;
        this.sampling = sampling;
        this.instance = instance;
        this.clock = clock;
    }

    /** Why a prompt cannot be answered, or null when it can. */
    public String invalid(Prompt p) {
        if (p.getPrompt().isBlank()) {
            return "empty prompt";
        }
        LlamaConfig c = opponent.checkpoint().model().config();
        int promptTokens = opponent.tokenizer().encodePrompt(PromptTurns.of(p)).length;
        int humanTokens = opponent.tokenizer().encodeResponse(p.getHumanResponse()).length;
        if (promptTokens + humanTokens > c.maxPositions() || promptTokens + 1 >= c.maxPositions()) {
            return "prompt of " + promptTokens + " tokens with a human answer of " + humanTokens
                    + " tokens exceeds the model's context of " + c.maxPositions() + " positions";
        }
        return null;
    }

    /** A seed of its own per prompt and round: a re-answered prompt gets the same answer. */
    long seedOf(Prompt p) {
        return sampling.seed() * 31 + p.getPromptId().hashCode() * 1_000_003L + opponent.round();
    }

    public List<SyntheticResponse> answer(NDManager manager, List<Prompt> prompts) {
        List<int[]> encoded = new ArrayList<>();
        long[] seeds = new long[prompts.size()];
        for (int i = 0; i < prompts.size(); i++) {
            encoded.add(opponent.tokenizer().encodePrompt(PromptTurns.of(prompts.get(i))));
            seeds[i] = seedOf(prompts.get(i));
        }
        List<int[]> generated = new Generator(opponent.checkpoint().model()).generate(manager, encoded, sampling, seeds, true);
        List<TokenBatch.Example> scored = new ArrayList<>();
        List<String> answers = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            answers.add(opponent.tokenizer().fitResponse(PromptTurns.of(prompts.get(i)), opponent.tokenizer().decode(generated.get(i)),
                    opponent.checkpoint().model().config().maxPositions()));
            scored.add(new TokenBatch.Example(encoded.get(i), opponent.tokenizer().encodeResponse(prompts.get(i).getHumanResponse())));
        }
        for (int i = 0; i < prompts.size(); i++) {
            scored.add(new TokenBatch.Example(encoded.get(i), opponent.tokenizer().encodeResponse(answers.get(i))));
        }
        double[] logps = LogProbs.sums(opponent.checkpoint().model(), manager,
                TokenBatch.of(scored, opponent.checkpoint().model().config().padTokenId()));
        List<SyntheticResponse> out = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            Prompt p = prompts.get(i);
            out.add(SyntheticResponse.newBuilder()
                    .setPromptId(p.getPromptId())
                    .setStream(p.getStream())
                    .setOpponentId(opponent.id())
                    .setRound(opponent.round())
                    .setResponse(answers.get(i))
                    .setPromptTokens(encoded.get(i).length)
                    .setResponseTokens(generated.get(i).length)
                    .setHumanTokens(scored.get(i).response().length)
                    .setOpponentLogpHuman(logps[i])
                    .setOpponentLogpSynthetic(logps[prompts.size() + i])
                    .setSampling(SamplingSettings.newBuilder().setTemperature(sampling.temperature())
                            .setTopP(sampling.topP()).setMaxNewTokens(sampling.maxNewTokens()).setSeed(seeds[i]).build())
                    .setGenerator(instance)
                    .setCreatedAt(clock.instant())
                    .build());
        }
        return out;
    }
}
