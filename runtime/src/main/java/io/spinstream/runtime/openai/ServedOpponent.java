package io.spinstream.runtime.openai;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spinstream.inference.LoadedModel;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.Sampling;
import io.spinstream.model.TokenBatch;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.model.tokenizer.SpinTokenizer;
import io.spinstream.runtime.http.Fanout;
import io.spinstream.runtime.http.JsonEndpoint;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.opponent.Opponent;
import io.spinstream.runtime.opponent.OpponentModel;
import io.spinstream.runtime.opponent.OpponentSource;
import io.spinstream.schemas.OpponentPromotion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.IntFunction;

/**
 * The opponent behind an OpenAI-compatible server: this process holds only its tokenizer and config (from the
 * promoted checkpoint's folder, its weights checked against the promotion's sha256), and asks the server for
 * answers (one request per prompt, {@code n} samples, the prompt's seed) and for log p of answers (token-id
 * prompts with {@code echo} and {@code logprobs}: the tokens the trainer will see, the answer's EOS included).
 * Requests go out {@code concurrency} at a time, for the server to batch.
 */
public final class ServedOpponent implements OpponentModel {
    private static final Logger log = LoggerFactory.getLogger(ServedOpponent.class);

    private final OpponentPromotion promotion;
    private final LlamaConfig config;
    private final SpinTokenizer tokenizer;
    private final OpenAiClient server;
    private final String name;
    private final boolean adapterLoadedHere;
    private final int concurrency;

    private ServedOpponent(OpponentPromotion promotion, LlamaConfig config, SpinTokenizer tokenizer, OpenAiClient server,
                           String name, boolean adapterLoadedHere, int concurrency) {
        this.promotion = promotion;
        this.config = config;
        this.tokenizer = tokenizer;
        this.server = server;
        this.name = name;
        this.adapterLoadedHere = adapterLoadedHere;
        this.concurrency = concurrency;
    }

    /**
     * @param baseName    the name the server gives round 0's opponent (the run's base), where it is not the
     *                    checkpoint's id; every later opponent is asked for by its checkpoint id
     * @param concurrency requests in flight at once
     */
    public static OpponentSource source(OpenAiClient server, PromptTemplate template, CheckpointLocation location,
                                        Optional<String> baseName, int concurrency) {
        return new OpponentSource() {
            @Override
            public OpponentModel next(OpponentModel previous, OpponentPromotion promotion, NDManager manager) {
                ServedOpponent next = load(promotion, template, location, server, baseName, concurrency);
                if (previous != null) {
                    previous.close();
                }
                return next;
            }

            @Override
            public String describe() {
                return "the OpenAI-compatible server at " + server.base();
            }
        };
    }

    /**
     * Reads the promoted checkpoint's tokenizer and config and makes sure the server serves it: listed by its
     * name, or (a LoRA adapter) loaded through {@code /load_lora_adapter}.
     *
     * @throws JsonEndpoint.Unavailable where the server does not serve it yet (the caller asks again later)
     */
    public static ServedOpponent load(OpponentPromotion promotion, PromptTemplate template, CheckpointLocation location,
                                      OpenAiClient server, Optional<String> baseName, int concurrency) {
        Path dir = location.resolve(promotion.getUri());
        CheckpointMetadata meta = CheckpointStore.verify(dir);
        LoadedModel.verify(meta.sha256(), Opponent.expected(promotion), dir);
        LlamaConfig config = LlamaConfig.read(dir.resolve(CheckpointStore.CONFIG));
        String name = promotion.getRound() == 0 && baseName.isPresent() ? baseName.get() : promotion.getCheckpointId();
        List<String> served = server.models();
        boolean loadedHere = false;
        if (!served.contains(name)) {
            if (!meta.isAdapter() || !server.loadLoraAdapter(name, dir.toAbsolutePath().toString())) {
                throw new JsonEndpoint.Unavailable(server.base() + " does not serve '" + name + "' yet (it serves " + served
                        + (meta.isAdapter() ? " and offers no /load_lora_adapter" : "; a full checkpoint is served by a server"
                        + " that follows the run, or one restarted on its folder") + ")", null);
            }
            loadedHere = true;
            log.info("{} loaded LoRA adapter {} from {}", server.base(), name, dir);
        }
        SpinTokenizer tokenizer = SpinTokenizer.load(dir.resolve(CheckpointStore.TOKENIZER), template, config.eosTokenId());
        return new ServedOpponent(promotion, config, tokenizer, server, name, loadedHere, concurrency);
    }

    @Override
    public OpponentPromotion promotion() {
        return promotion;
    }

    @Override
    public LlamaConfig config() {
        return config;
    }

    @Override
    public SpinTokenizer tokenizer() {
        return tokenizer;
    }

    /** The model name requests carry. */
    public String servedName() {
        return name;
    }

    @Override
    public List<Draft> generate(NDManager manager, List<int[]> prompts, int samples, long[] seeds, Sampling sampling, int rows) {
        List<List<Draft>> each = inParallel(prompts.size(), i -> {
            int[] prompt = prompts.get(i);
            ObjectNode req = OpenAiClient.request().put("model", name)
                    .put("max_tokens", Math.min(sampling.maxNewTokens(), config.maxPositions() - prompt.length))
                    .put("temperature", sampling.temperature()).put("top_p", sampling.topP())
                    .put("n", samples).put("seed", seeds[i * samples]);
            ArrayNode ids = req.putArray("prompt");
            for (int t : prompt) {
                ids.add(t);
            }
            List<Draft> drafts = new ArrayList<>();
            try {
                List<OpenAiClient.Choice> choices = server.complete(req);
                if (choices.size() != samples) {
                    throw new IllegalStateException(server.base() + " gave " + choices.size() + " choices for n = " + samples);
                }
                for (OpenAiClient.Choice c : choices) {
                    // The server gives text: its tokens are counted as the text re-encodes (the EOS it ends on aside).
                    drafts.add(new Draft(c.text(), tokenizer.encodeResponse(c.text()).length - 1, null, Double.NaN, null));
                }
            } catch (JsonEndpoint.Refused e) {
                for (int k = 0; k < samples; k++) {
                    drafts.add(Draft.refused(e.getMessage()));
                }
            }
            return drafts;
        });
        return each.stream().flatMap(List::stream).toList();
    }

    /**
     * One request per prompt, its examples as a list of token-id prompts (prompt then answer), echoed with their
     * log-probs: an answer's log p is the sum over its positions.
     */
    @Override
    public double[] score(NDManager manager, List<TokenBatch.Example> examples, String[] refusals) {
        Map<int[], List<Integer>> byPrompt = new IdentityHashMap<>();
        List<int[]> order = new ArrayList<>();
        for (int e = 0; e < examples.size(); e++) {
            int[] prompt = examples.get(e).prompt();
            if (!byPrompt.containsKey(prompt)) {
                order.add(prompt);
            }
            byPrompt.computeIfAbsent(prompt, p -> new ArrayList<>()).add(e);
        }
        double[] out = new double[examples.size()];
        List<List<Double>> scored = inParallel(order.size(), g -> {
            List<Integer> members = byPrompt.get(order.get(g));
            ObjectNode req = OpenAiClient.request().put("model", name).put("echo", true).put("logprobs", 1)
                    .put("temperature", 0);
            ArrayNode list = req.putArray("prompt");
            boolean full = false;
            for (int e : members) {
                TokenBatch.Example ex = examples.get(e);
                ArrayNode ids = list.addArray();
                for (int t : ex.prompt()) {
                    ids.add(t);
                }
                for (int t : ex.response()) {
                    ids.add(t);
                }
                full |= ex.prompt().length + ex.response().length >= config.maxPositions();
            }
            // One generated token is the portable form (vLLM refuses max_tokens 0); a sequence that fills the
            // context leaves no room for it, and max_tokens 0 asks for the prompt's log-probs alone.
            req.put("max_tokens", full ? 0 : 1);
            List<Double> sums = new ArrayList<>();
            try {
                List<OpenAiClient.Choice> choices = server.complete(req);
                if (choices.size() != members.size()) {
                    throw new IllegalStateException(server.base() + " gave " + choices.size() + " choices for " + members.size() + " prompts");
                }
                for (int j = 0; j < members.size(); j++) {
                    sums.add(responseLogProb(choices.get(j), examples.get(members.get(j))));
                }
            } catch (JsonEndpoint.Refused e) {
                members.forEach(m -> sums.add(Double.NaN));
                members.forEach(m -> refusals[m] = e.getMessage());
            }
            return sums;
        });
        for (int g = 0; g < order.size(); g++) {
            List<Integer> members = byPrompt.get(order.get(g));
            for (int j = 0; j < members.size(); j++) {
                out[members.get(j)] = scored.get(g).get(j);
            }
        }
        return out;
    }

    private double responseLogProb(OpenAiClient.Choice c, TokenBatch.Example ex) {
        JsonNode lp = c.logprobs() == null ? null : c.logprobs().get("token_logprobs");
        int from = ex.prompt().length;
        int to = from + ex.response().length;
        if (lp == null || !lp.isArray() || lp.size() < to) {
            throw new IllegalStateException(server.base() + " answered an echo request without the prompt's log-probs ("
                    + (lp == null ? "none" : lp.size() + " of " + to) + "); vLLM gives them with prefix caching off");
        }
        double sum = 0;
        for (int t = from; t < to; t++) {
            if (!lp.get(t).isNumber()) {
                throw new IllegalStateException(server.base() + ": prompt log-prob " + t + " is not a number: " + lp.get(t));
            }
            sum += lp.get(t).asDouble();
        }
        return sum;
    }

    private <T> List<T> inParallel(int n, IntFunction<T> task) {
        return new Fanout(concurrency, server.base().toString()).map(n, task);
    }

    /** Drops the adapter this opponent loaded into the server (best effort: the server may be gone). */
    @Override
    public void close() {
        tokenizer.close();
        if (adapterLoadedHere) {
            try {
                server.unloadLoraAdapter(name);
            } catch (RuntimeException e) {
                log.warn("could not unload adapter {} from {}: {}", name, server.base(), e.getMessage());
            }
        }
    }
}
