package io.spinstream.runtime.opponent;

import ai.djl.ndarray.NDManager;
import io.spinstream.model.Generator;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.LogProbs;
import io.spinstream.model.Sampling;
import io.spinstream.model.TokenBatch;
import io.spinstream.schemas.CandidateSample;
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
    private final int samples;

    public PromptAnswerer(Opponent opponent, Sampling sampling, String instance, Clock clock) {
        this(opponent, sampling, instance, clock, 1);
    }

    /**
     * @param samples K answers per prompt, each with a seed of its own (sample 0's is the one K = 1 uses, so
     *                the first answer does not change with K); all K travel in the record's samples
     */
    public PromptAnswerer(Opponent opponent, Sampling sampling, String instance, Clock clock, int samples) {
        if (samples < 1) {
            throw new IllegalArgumentException("samples must be >= 1, got " + samples);
        }
        this.opponent = opponent;
        this.sampling = sampling;
        this.instance = instance;
        this.clock = clock;
        this.samples = samples;
    }

    /** Why a prompt cannot be answered, or null when it can. */
    public String invalid(Prompt p) {
        if (p.getPrompt().isBlank()) {
            return "empty prompt";
        }
        LlamaConfig c = opponent.checkpoint().model().config();
        int promptTokens = opponent.tokenizer().encodePrompt(PromptTurns.of(p)).length;
        int humanTokens = p.getHumanResponse() == null ? 0 : opponent.tokenizer().encodeResponse(p.getHumanResponse()).length;
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

    /** Sample k's seed: sample 0's is {@link #seedOf}; the others are apart from it and from each other. */
    long seedOf(Prompt p, int k) {
        return seedOf(p) + k * 0x9E3779B97F4A7C15L;
    }

    public List<SyntheticResponse> answer(NDManager manager, List<Prompt> prompts) {
        return answer(manager, prompts, prompts.size());
    }

    /**
     * @param batch prompts generated at once: beyond it, a prompt takes the row of one that has finished
     *              (continuous batching); its answer is the same either way
     */
    public List<SyntheticResponse> answer(NDManager manager, List<Prompt> prompts, int batch) {
        int n = prompts.size();
        int rows = n * samples; // row i * samples + k: prompt i's sample k
        List<int[]> promptIds = new ArrayList<>();
        List<int[]> encoded = new ArrayList<>();
        long[] seeds = new long[rows];
        for (int i = 0; i < n; i++) {
            int[] ids = opponent.tokenizer().encodePrompt(PromptTurns.of(prompts.get(i)));
            promptIds.add(ids);
            for (int k = 0; k < samples; k++) {
                encoded.add(ids);
                seeds[i * samples + k] = seedOf(prompts.get(i), k);
            }
        }
        int context = opponent.checkpoint().model().config().maxPositions();
        List<Generator.Answer> made = new Generator(opponent.checkpoint().model()).answer(manager, encoded, sampling, seeds,
                Math.max(1, batch) * samples);
        List<int[]> generated = made.stream().map(Generator.Answer::tokens).toList();
        List<String> answers = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            Prompt p = prompts.get(r / samples);
            answers.add(opponent.tokenizer().fitResponse(PromptTurns.of(p), opponent.tokenizer().decode(generated.get(r)), context));
        }
        // log p(y'|x) comes with generation when the published answer re-encodes to the generated tokens (and its
        // EOS); an answer that does not (cut to fit, or bytes that are not UTF-8) is scored as the trainer will see it.
        double[] synthetic = new double[rows];
        List<TokenBatch.Example> rescored = new ArrayList<>();
        List<Integer> rescoredRows = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            int[] response = opponent.tokenizer().encodeResponse(answers.get(r));
            if (Double.isFinite(made.get(r).logProbWithEos()) && isTokensAndEos(response, generated.get(r))) {
                synthetic[r] = made.get(r).logProbWithEos();
            } else {
                rescored.add(new TokenBatch.Example(promptIds.get(r / samples), response));
                rescoredRows.add(r);
            }
        }
        double[] again = score(manager, rescored);
        for (int i = 0; i < again.length; i++) {
            synthetic[rescoredRows.get(i)] = again[i];
        }
        // Only labelled prompts have a human answer to score, in a batch of their own (padded to the longest of
        // them, not to the longest generated answer); humanRow[i] is its row, or -1.
        List<TokenBatch.Example> scored = new ArrayList<>();
        int[] humanRow = new int[n];
        for (int i = 0; i < n; i++) {
            String human = prompts.get(i).getHumanResponse();
            humanRow[i] = human == null ? -1 : scored.size();
            if (human != null) {
                scored.add(new TokenBatch.Example(promptIds.get(i), opponent.tokenizer().encodeResponse(human)));
            }
        }
        double[] logps = score(manager, scored);
        List<SyntheticResponse> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Prompt p = prompts.get(i);
            // Rewards are the reward step's (RewardStep), after answering: null here.
            List<CandidateSample> all = new ArrayList<>();
            for (int k = 0; k < samples; k++) {
                String answer = answers.get(i * samples + k);
                all.add(CandidateSample.newBuilder().setSample(k).setResponse(answer).setOpponentLogp(synthetic[i * samples + k])
                        .setReward(null).build());
            }
            out.add(SyntheticResponse.newBuilder()
                    .setPromptId(p.getPromptId())
                    .setStream(p.getStream())
                    .setOpponentId(opponent.id())
                    .setRound(opponent.round())
                    .setResponse(all.get(0).getResponse())
                    .setPromptTokens(promptIds.get(i).length)
                    .setResponseTokens(generated.get(i * samples).length)
                    .setHumanTokens(humanRow[i] < 0 ? 0 : scored.get(humanRow[i]).response().length)
                    .setOpponentLogpHuman(humanRow[i] < 0 ? 0.0 : logps[humanRow[i]])
                    .setOpponentLogpSynthetic(all.get(0).getOpponentLogp())
                    .setReward(null)
                    .setSamples(samples > 1 ? all : List.of())
                    .setSampling(SamplingSettings.newBuilder().setTemperature(sampling.temperature())
                            .setTopP(sampling.topP()).setMaxNewTokens(sampling.maxNewTokens()).setSeed(seeds[i * samples]).build())
                    .setGenerator(instance)
                    .setCreatedAt(clock.instant())
                    .build());
        }
        return out;
    }

    private double[] score(NDManager manager, List<TokenBatch.Example> examples) {
        if (examples.isEmpty()) {
            return new double[0];
        }
        LlamaModel model = opponent.checkpoint().model();
        return LogProbs.sums(model, manager, examples, model.config().padTokenId());
    }

    private static boolean isTokensAndEos(int[] response, int[] generated) {
        return response.length == generated.length + 1
                && java.util.Arrays.equals(response, 0, generated.length, generated, 0, generated.length);
    }
}
