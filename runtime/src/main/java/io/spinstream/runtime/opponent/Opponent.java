package io.spinstream.runtime.opponent;

import ai.djl.ndarray.NDManager;
import io.spinstream.model.Precision;
import io.spinstream.model.checkpoint.LoadedCheckpoint;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.model.tokenizer.SpinTokenizer;
import io.spinstream.inference.LoadedModel;
import io.spinstream.schemas.OpponentPromotion;

import io.spinstream.model.Generator;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.LogProbs;
import io.spinstream.model.Sampling;
import io.spinstream.model.TokenBatch;

import java.nio.file.Path;
import java.util.Optional;
import java.util.ArrayList;
import java.util.List;

/** The loaded opponent: a promotion and the model it names, checked against it. */
public record Opponent(OpponentPromotion promotion, LoadedModel model) implements OpponentModel {

    /**
     * Loads the checkpoint a promotion names; refuses one whose sha256 differs from the promotion's or
     * from its own metadata, so no answer ever comes from a wrong model.
     */
    public static Opponent load(OpponentPromotion promotion, NDManager manager, PromptTemplate template,
                                CheckpointLocation location) {
        return load(promotion, manager, template, location, Precision.FLOAT32);
    }

    /** As {@link #load(OpponentPromotion, NDManager, PromptTemplate, CheckpointLocation)}, held as {@code precision} says. */
    public static Opponent load(OpponentPromotion promotion, NDManager manager, PromptTemplate template,
                                CheckpointLocation location, Precision precision) {
        return new Opponent(promotion, LoadedModel.load(promotion.getCheckpointId(), location.resolve(promotion.getUri()),
                Optional.of(expected(promotion)), manager, template, precision));
    }

    /**
     * The opponent {@code promotion} names, taking {@code previous} over (the caller no longer closes it):
     * where the new opponent is a LoRA adapter over the previous one — each round's candidate is — only
     * the adapter is read and merged into the model already loaded; anything else is loaded whole.
     */
    public static Opponent next(Opponent previous, OpponentPromotion promotion, NDManager manager, PromptTemplate template,
                                CheckpointLocation location, Precision precision) {
        if (previous == null) {
            return load(promotion, manager, template, location, precision);
        }
        Optional<LoadedModel> onto;
        try {
            onto = LoadedModel.onto(promotion.getCheckpointId(), location.resolve(promotion.getUri()), previous.model(),
                    Optional.of(expected(promotion)), template);
        } catch (RuntimeException e) {
            previous.close();
            throw e;
        }
        if (onto.isEmpty()) {
            previous.close();
            return load(promotion, manager, template, location, precision);
        }
        return new Opponent(promotion, onto.get());
    }

    /** What a promotion says of its checkpoint's files. */
    public static LoadedModel.Expected expected(OpponentPromotion promotion) {
        return new LoadedModel.Expected(promotion.getSha256(), "the promotion of " + promotion.getCheckpointId());
    }

    public LoadedCheckpoint checkpoint() {
        return model.checkpoint();
    }

    @Override
    public SpinTokenizer tokenizer() {
        return model.tokenizer();
    }

    /** The promotion that makes a base checkpoint (in {@code dir}) round 0's opponent of run {@code runId}. */
    public static OpponentPromotion initial(String runId, io.spinstream.model.checkpoint.CheckpointMetadata base, Path dir) {
        return OpponentPromotion.newBuilder().setRunId(runId).setCheckpointId(base.id()).setRound(0)
                .setUri(dir.toAbsolutePath().toUri().toString()).setSha256(base.sha256())
                .setCreatedAt(java.time.Instant.now()).build();
    }


    @Override
    public LlamaConfig config() {
        return model.llama().config();
    }

    @Override
    public List<Draft> generate(NDManager manager, List<int[]> prompts, int samples, long[] seeds, Sampling sampling, int rows) {
        List<int[]> encoded = new ArrayList<>();
        prompts.forEach(p -> {
            for (int k = 0; k < samples; k++) {
                encoded.add(p);
            }
        });
        List<Draft> out = new ArrayList<>();
        for (Generator.Answer a : new Generator(model.llama()).answer(manager, encoded, sampling, seeds, rows)) {
            out.add(new Draft(tokenizer().decode(a.tokens()), a.tokens().length, a.tokens(), a.logProbWithEos(), null));
        }
        return out;
    }

    @Override
    public double[] score(NDManager manager, List<TokenBatch.Example> examples, String[] refusals) {
        return examples.isEmpty() ? new double[0] : LogProbs.sums(model.llama(), manager, examples, config().padTokenId());
    }

    @Override
    public void close() {
        model.close();
    }
}
