package io.spinstream.runtime.opponent;

import ai.djl.ndarray.NDManager;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.tokenizer.ChatTemplate;
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
 * its log-probabilities of the human answer y and of y', both of the tokens the trainer will train on:
 * y' as generated (its token ids travel with the text, then EOS) when the backend gives its tokens, else
 * the answer text re-encoded, then EOS.
 */
public final class PromptAnswerer {
    private final OpponentModel opponent;
    private final Sampling sampling;
    private final String instance;
    private final Clock clock;
    private final int samples;

    public PromptAnswerer(OpponentModel opponent, Sampling sampling, String instance, Clock clock) {
        this(opponent, sampling, instance, clock, 1);
    }

    /**
     * @param samples K answers per prompt, each with a seed of its own (sample 0's is the one K = 1 uses, so
     *                the first answer does not change with K); all K travel in the record's samples
     */
    public PromptAnswerer(OpponentModel opponent, Sampling sampling, String instance, Clock clock, int samples) {
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
        LlamaConfig c = opponent.config();
        int promptTokens;
        try {
            promptTokens = opponent.tokenizer().encodePrompt(PromptTurns.of(p)).length;
        } catch (ChatTemplate.Refusal e) { // the record's own: a dead letter, not a crash read again on restart
            return e.getMessage();
        }
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

    /** What became of one prompt: its answer, or the backend's refusal of it (the prompt's own fault). */
    public sealed interface Answered {
        record Made(SyntheticResponse response) implements Answered {
        }

        record Refused(String reason) implements Answered {
        }
    }

    /**
     * @param batch prompts generated at once: beyond it, a prompt takes the row of one that has finished
     *              (continuous batching); its answer is the same either way
     * @throws IllegalStateException where the backend refused a prompt (see {@link #answerEach})
     */
    public List<SyntheticResponse> answer(NDManager manager, List<Prompt> prompts, int batch) {
        List<SyntheticResponse> out = new ArrayList<>();
        for (Answered a : answerEach(manager, prompts, batch)) {
            switch (a) {
                case Answered.Made m -> out.add(m.response());
                case Answered.Refused r -> throw new IllegalStateException("opponent " + opponent.id() + " refused a prompt: " + r.reason());
            }
        }
        return out;
    }

    /** As {@link #answer(NDManager, List, int)}, with a prompt the backend refuses as {@link Answered.Refused}, in its place. */
    public List<Answered> answerEach(NDManager manager, List<Prompt> prompts, int batch) {
        int n = prompts.size();
        int rows = n * samples; // row i * samples + k: prompt i's sample k
        List<int[]> promptIds = new ArrayList<>();
        long[] seeds = new long[rows];
        for (int i = 0; i < n; i++) {
            promptIds.add(opponent.tokenizer().encodePrompt(PromptTurns.of(prompts.get(i))));
            for (int k = 0; k < samples; k++) {
                seeds[i * samples + k] = seedOf(prompts.get(i), k);
            }
        }
        int context = opponent.config().maxPositions();
        List<OpponentModel.Draft> made = opponent.generate(manager, promptIds, samples, seeds, sampling, Math.max(1, batch) * samples);
        String[] refused = new String[n];
        List<String> answers = new ArrayList<>();
        // y' as generated: its tokens are what the trainer trains on (published beside the text, which may
        // re-encode otherwise), and log p(y'|x) came with generation. Null: the text is the answer. The text is
        // cut to fit the context either way, for whoever reads text (rewards, the evaluator's text path).
        int[][] own = new int[rows][];
        for (int r = 0; r < rows; r++) {
            Prompt p = prompts.get(r / samples);
            OpponentModel.Draft d = made.get(r);
            if (d.refusal() != null && refused[r / samples] == null) {
                refused[r / samples] = d.refusal();
            }
            if (d.tokens() != null && Double.isFinite(d.logProbWithEos())
                    && promptIds.get(r / samples).length + d.tokens().length + 1 <= context) {
                own[r] = d.tokens();
            }
            answers.add(opponent.tokenizer().fitResponse(PromptTurns.of(p), d.text(), context));
        }
        // An answer without its own tokens (a backend that gives text only; one with no room for its EOS, cut to
        // fit) is scored as the trainer will see it: the text re-encoded.
        double[] synthetic = new double[rows];
        List<TokenBatch.Example> rescored = new ArrayList<>();
        List<Integer> rescoredRows = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            if (refused[r / samples] != null) {
                continue;
            }
            if (own[r] != null) {
                synthetic[r] = made.get(r).logProbWithEos();
            } else {
                int[] response = opponent.tokenizer().encodeResponse(answers.get(r));
                rescored.add(new TokenBatch.Example(promptIds.get(r / samples), response));
                rescoredRows.add(r);
            }
        }
        // Only labelled prompts have a human answer to score; humanRow[i] is its row among the examples, or -1. They
        // are scored apart from the answers re-scored above (padded to the longest of them, not to the longest answer).
        List<TokenBatch.Example> scored = new ArrayList<>();
        int[] humanRow = new int[n];
        for (int i = 0; i < n; i++) {
            String human = prompts.get(i).getHumanResponse();
            humanRow[i] = human == null || refused[i] != null ? -1 : scored.size();
            if (humanRow[i] >= 0) {
                scored.add(new TokenBatch.Example(promptIds.get(i), opponent.tokenizer().encodeResponse(human)));
            }
        }
        String[] againRefused = new String[rescored.size()];
        double[] again = opponent.score(manager, rescored, againRefused);
        for (int i = 0; i < again.length; i++) {
            synthetic[rescoredRows.get(i)] = again[i];
            int prompt = rescoredRows.get(i) / samples;
            if (againRefused[i] != null && refused[prompt] == null) {
                refused[prompt] = againRefused[i];
            }
        }
        String[] humanRefused = new String[scored.size()];
        double[] logps = opponent.score(manager, scored, humanRefused);
        List<Answered> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Prompt p = prompts.get(i);
            if (refused[i] == null && humanRow[i] >= 0) {
                refused[i] = humanRefused[humanRow[i]];
            }
            if (refused[i] != null) {
                out.add(new Answered.Refused(refused[i]));
                continue;
            }
            // Rewards are the reward step's (RewardStep), after answering: null here.
            List<CandidateSample> all = new ArrayList<>();
            for (int k = 0; k < samples; k++) {
                String answer = answers.get(i * samples + k);
                all.add(CandidateSample.newBuilder().setSample(k).setResponse(answer).setOpponentLogp(synthetic[i * samples + k])
                        .setReward(null).setResponseTokenIds(ids(own[i * samples + k])).build());
            }
            out.add(new Answered.Made(SyntheticResponse.newBuilder()
                    .setPromptId(p.getPromptId())
                    .setStream(p.getStream())
                    .setOpponentId(opponent.id())
                    .setRound(opponent.round())
                    .setResponse(all.get(0).getResponse())
                    .setPromptTokens(promptIds.get(i).length)
                    .setResponseTokens(made.get(i * samples).length())
                    .setHumanTokens(humanRow[i] < 0 ? 0 : scored.get(humanRow[i]).response().length)
                    .setOpponentLogpHuman(humanRow[i] < 0 ? 0.0 : logps[humanRow[i]])
                    .setOpponentLogpSynthetic(all.get(0).getOpponentLogp())
                    .setReward(null)
                    .setSamples(samples > 1 ? all : List.of())
                    .setResponseTokenIds(ids(own[i * samples]))
                    .setSampling(SamplingSettings.newBuilder().setTemperature(sampling.temperature())
                            .setTopP(sampling.topP()).setMaxNewTokens(sampling.maxNewTokens()).setSeed(seeds[i * samples]).build())
                    .setGenerator(instance)
                    .setCreatedAt(clock.instant())
                    .build()));
        }
        return out;
    }

    private static List<Integer> ids(int[] tokens) {
        return tokens == null ? null : java.util.Arrays.stream(tokens).boxed().toList();
    }
}
