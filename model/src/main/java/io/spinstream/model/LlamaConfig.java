package io.spinstream.model;

import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The architecture of a decoder of one of the supported {@link Family families}, read from and written to a
 * Hugging Face {@code config.json}. Every key that changes the arithmetic is read into a field here; a key the
 * family does not understand is refused with its name.
 *
 * @param headDim          each head's width ({@code head_dim}; hidden / heads when absent)
 * @param maxPositions     the context this model computes exactly: {@code max_position_embeddings}, capped where the
 *                         rotary embedding is exact only within a shorter one (dynamic, longrope)
 * @param attentionBias    q/k/v (and, except in Qwen2, o) projections carry a bias
 * @param mlpBias          gate/up/down projections carry a bias (Llama's {@code mlp_bias})
 * @param rope             the rotary embedding of the (global) attention layers
 * @param localRope        the rotary embedding of the sliding-window layers where it differs (Gemma 3), else null
 * @param rotated          per layer: rotary embeddings applied (SmolLM3's {@code no_rope_layers} turn some off)
 * @param slidingWindow    keys a query of a sliding layer sees, itself included (0: no window)
 * @param sliding          per layer: attends within {@code slidingWindow} only
 * @param attentionSoftcap scores are capped as cap·tanh(s / cap) (Gemma 2; 0: none)
 * @param finalSoftcap     logits are capped likewise (0: none)
 * @param queryScale       what q·k is multiplied by (1/√head_dim, Gemma: query_pre_attn_scalar^-1/2)
 * @param eosTokenId       the token that ends an answer (appended to answers in training; -1: none)
 * @param alsoStopOn       further tokens that end generation (a list of eos ids, a template's end of turn)
 * @param source           the config.json this was read from (written back on export with only its dtype and
 *                         eos ids updated, so an exported folder loads as the same transformers class), or null
 */
public record LlamaConfig(Family family, int vocabSize, int hiddenSize, int intermediateSize, int numLayers,
                          int numHeads, int numKvHeads, int headDim, int maxPositions, double rmsNormEps,
                          boolean tieWordEmbeddings, boolean attentionBias, boolean mlpBias, RotaryEmbedding rope,
                          RotaryEmbedding localRope, List<Boolean> rotated, int slidingWindow, List<Boolean> sliding,
                          double attentionSoftcap, double finalSoftcap, double queryScale, int bosTokenId, int eosTokenId,
                          List<Integer> alsoStopOn, int padTokenId, String source) {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Layers and widths beyond any published model by far: a config past them is a mistake or an attack. */
    private static final int MAX_LAYERS = 1024;
    private static final long MAX_WIDTH = 1L << 20;
    private static final long MAX_POSITIONS = 1L << 24;

    public LlamaConfig {
        require(vocabSize > 0 && vocabSize <= (1 << 24), "vocab_size must be in 1.." + (1 << 24) + ", got " + vocabSize);
        require(hiddenSize > 0 && hiddenSize <= MAX_WIDTH, "hidden_size must be in 1.." + MAX_WIDTH + ", got " + hiddenSize);
        require(intermediateSize > 0 && intermediateSize <= MAX_WIDTH, "intermediate_size must be in 1.." + MAX_WIDTH
                + ", got " + intermediateSize);
        require(numLayers > 0 && numLayers <= MAX_LAYERS, "num_hidden_layers must be in 1.." + MAX_LAYERS + ", got " + numLayers);
        require(numHeads > 0 && numHeads <= 4096, "num_attention_heads must be in 1..4096, got " + numHeads);
        require(numKvHeads > 0 && numHeads % numKvHeads == 0,
                "num_attention_heads (" + numHeads + ") must be a multiple of num_key_value_heads (" + numKvHeads + ")");
        require(headDim > 0 && headDim % 2 == 0 && (long) headDim * numHeads <= MAX_WIDTH,
                "head_dim must be even and > 0 (and heads × head_dim at most " + MAX_WIDTH + "), got " + headDim);
        require(maxPositions > 0 && maxPositions <= MAX_POSITIONS, "max_position_embeddings must be in 1.." + MAX_POSITIONS
                + ", got " + maxPositions);
        require(rmsNormEps > 0 && rmsNormEps < 1, "rms_norm_eps must be in (0, 1), got " + rmsNormEps);
        require(rope.rotaryDim() <= headDim, "the rotary dimensions (" + rope.rotaryDim() + ") exceed head_dim (" + headDim + ")");
        require(localRope == null || localRope.rotaryDim() == rope.rotaryDim(), "local and global rope must rotate the same dims");
        rotated = List.copyOf(rotated);
        sliding = List.copyOf(sliding);
        alsoStopOn = List.copyOf(alsoStopOn);
        require(rotated.size() == numLayers && sliding.size() == numLayers, "one rope and one window flag per layer");
        require(slidingWindow >= 0, "sliding_window must be >= 0, got " + slidingWindow);
        require(slidingWindow > 0 || !sliding.contains(true), "sliding layers need a sliding_window > 0");
        require(attentionSoftcap >= 0 && finalSoftcap >= 0, "soft-caps must be >= 0");
        require(queryScale > 0 && Double.isFinite(queryScale), "the query scale must be > 0");
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    /** The transformers class name, as config.json's {@code architectures} gives it. */
    public String architecture() {
        return family.architecture();
    }

    public double ropeTheta() {
        return rope.theta();
    }

    /** Every token that ends generation: the answer's end first. */
    public Set<Integer> stopTokens() {
        Set<Integer> out = new LinkedHashSet<>();
        if (eosTokenId >= 0) {
            out.add(eosTokenId);
        }
        out.addAll(alsoStopOn);
        return Collections.unmodifiableSet(out);
    }

    /** q, k and v carry biases. */
    public boolean qkvBias() {
        return attentionBias || family.alwaysQkvBias();
    }

    /** o_proj carries a bias (attention_bias, except in Qwen2, whose output projection never has one). */
    public boolean outputBias() {
        return attentionBias && !family.alwaysQkvBias();
    }

    /** A small Llama for tests, demos and benchmarks. */
    public static LlamaConfig tiny(int vocab, int hidden, int layers, int heads, int kvHeads, int maxPositions) {
        // Llama's MLP width: about 8/3 of the hidden size, rounded up to a multiple of 64.
        int intermediate = (hidden * 8 / 3 + 63) / 64 * 64;
        require(heads > 0 && hidden % heads == 0, "hidden_size (" + hidden + ") must be a multiple of num_attention_heads ("
                + heads + ")");
        int headDim = hidden / heads;
        return new LlamaConfig(Family.LLAMA, vocab, hidden, intermediate, layers, heads, kvHeads, headDim, maxPositions,
                1e-5, false, false, false, RotaryEmbedding.standard(10000.0, headDim, maxPositions), null,
                Collections.nCopies(layers, true), 0, Collections.nCopies(layers, false), 0, 0, 1.0 / Math.sqrt(headDim),
                1, 2, List.of(), 0, null);
    }

    public LlamaConfig withTiedEmbeddings(boolean tied) {
        return new LlamaConfig(family, vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim,
                maxPositions, rmsNormEps, tied, attentionBias, mlpBias, rope, localRope, rotated, slidingWindow, sliding,
                attentionSoftcap, finalSoftcap, queryScale, bosTokenId, eosTokenId, alsoStopOn, padTokenId, source);
    }

    /** The same model stopping on {@code eos} (-1: never, as benchmarks want; other stops are dropped then too). */
    public LlamaConfig withEos(int eos) {
        List<Integer> others = eos < 0 ? List.of() : alsoStopOn.stream().filter(t -> t != eos).toList();
        return withStops(eos, others);
    }

    /** The same model ending answers with {@code eos} and stopping on {@code others} too. */
    public LlamaConfig withStops(int eos, List<Integer> others) {
        for (int t : others) {
            require(t >= 0 && t < vocabSize, "stop token " + t + " is outside the vocabulary of " + vocabSize);
        }
        List<Integer> rest = others.stream().filter(t -> t != eos).distinct().toList();
        return new LlamaConfig(family, vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim,
                maxPositions, rmsNormEps, tieWordEmbeddings, attentionBias, mlpBias, rope, localRope, rotated, slidingWindow,
                sliding, attentionSoftcap, finalSoftcap, queryScale, bosTokenId, eos, rest, padTokenId, source);
    }

    /** A generated config of another Llama-like family (tests), with q/k/v biases or not. */
    public LlamaConfig withArchitecture(String arch, boolean bias) {
        return new LlamaConfig(Family.ofArchitecture(arch), vocabSize, hiddenSize, intermediateSize, numLayers, numHeads,
                numKvHeads, headDim, maxPositions, rmsNormEps, tieWordEmbeddings, bias, mlpBias, rope, localRope, rotated,
                slidingWindow, sliding, attentionSoftcap, finalSoftcap, queryScale, bosTokenId, eosTokenId, alsoStopOn,
                padTokenId, null);
    }

    public static LlamaConfig read(Path configJson) {
        try {
            return fromJson(Files.readString(configJson));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + configJson, e);
        }
    }

    public static LlamaConfig fromJson(String text) {
        JsonNode n;
        try {
            n = JSON.readTree(text);
        } catch (IOException e) {
            throw new IllegalArgumentException("config.json is not valid JSON: " + e.getMessage(), e);
        }
        if (n == null || !n.isObject()) {
            throw new IllegalArgumentException("config.json must hold a JSON object");
        }
        String arch = n.path("architectures").path(0).asText(null);
        Family family = arch != null ? Family.ofArchitecture(arch) : Family.ofModelType(n.path("model_type").asText(""));
        String where = family.architecture();
        refuseUnknownKeys(n, family);
        if (n.hasNonNull("quantization_config")) {
            throw new IllegalArgumentException(where + ": quantization_config is not supported; import an unquantized F32,"
                    + " F16 or BF16 checkpoint");
        }
        int hidden = required(n, "hidden_size");
        int heads = required(n, "num_attention_heads");
        int layers = required(n, "num_hidden_layers");
        require(layers > 0 && layers <= MAX_LAYERS, where + ": num_hidden_layers must be in 1.." + MAX_LAYERS + ", got " + layers);
        require(heads > 0, where + ": num_attention_heads must be > 0");
        boolean gemma = family.unitOffsetNorm();
        int headDim = n.hasNonNull("head_dim") ? required(n, "head_dim") : gemma ? 256 : hidden / heads;
        int declaredMax = n.hasNonNull("max_position_embeddings") ? required(n, "max_position_embeddings") : 2048;
        require(declaredMax > 0 && declaredMax <= MAX_POSITIONS, where + ": max_position_embeddings must be in 1.."
                + MAX_POSITIONS + ", got " + declaredMax);

        String activation = n.hasNonNull("hidden_activation") ? n.get("hidden_activation").asText()
                : n.path("hidden_act").asText(family.activation());
        if (!activation.equals(family.activation())) {
            throw new IllegalArgumentException(where + ": hidden_act '" + activation + "' is not supported; "
                    + family.architecture() + " computes " + family.activation());
        }
        boolean mlpBias = n.path("mlp_bias").asBoolean(false);
        if (mlpBias && family != Family.LLAMA && family != Family.SMOLLM3) {
            mlpBias = false; // transformers' other families do not read mlp_bias: it changes nothing there
        }
        if (n.path("lm_head_bias").asBoolean(false)) {
            throw new IllegalArgumentException(where + ": lm_head_bias true is not supported (no published model has it)");
        }
        if (n.path("use_bidirectional_attention").asBoolean(false)) {
            throw new IllegalArgumentException(where + ": use_bidirectional_attention true is not supported (a causal"
                    + " language model attends to earlier tokens only)");
        }

        // Positions.
        JsonNode scaling = n.get("rope_scaling");
        double theta = number(n, "rope_theta", gemma && family == Family.GEMMA3 ? 1_000_000.0 : 10000.0, where);
        if (n.hasNonNull("rope_parameters")) {
            JsonNode p = n.get("rope_parameters");
            if (p.has("full_attention") || p.has("sliding_attention")) {
                throw new IllegalArgumentException(where + ": rope_parameters per layer type is not supported; give"
                        + " rope_theta and rope_scaling (transformers 4.x layout)");
            }
            theta = number(p, "rope_theta", theta, where);
            scaling = p;
        }
        double partial = 1.0;
        if (n.hasNonNull("partial_rotary_factor")) {
            partial = n.get("partial_rotary_factor").asDouble();
            require(partial > 0 && partial <= 1, where + ": partial_rotary_factor must be in (0, 1], got " + partial);
        }
        int rotaryDim = (int) (headDim * partial);
        Integer originalTop = n.hasNonNull("original_max_position_embeddings") && family == Family.PHI3
                ? required(n, "original_max_position_embeddings") : null;
        RotaryEmbedding rope = RotaryEmbedding.of(scaling, theta, rotaryDim, declaredMax, originalTop, where);
        RotaryEmbedding localRope = null;
        if (family == Family.GEMMA3) {
            localRope = RotaryEmbedding.standard(number(n, "rope_local_base_freq", 10000.0, where), rotaryDim, declaredMax);
        }
        int maxPositions = Math.min(declaredMax, rope.exactUpTo());
        List<Boolean> rotated = rotatedLayers(n, family, layers, where);

        // Windows.
        int window = 0;
        List<Boolean> sliding = Collections.nCopies(layers, false);
        Integer declaredWindow = n.hasNonNull("sliding_window") ? required(n, "sliding_window") : null;
        switch (family) {
            case MISTRAL, PHI3 -> {
                if (declaredWindow != null) {
                    window = declaredWindow;
                    sliding = Collections.nCopies(layers, true);
                }
            }
            case QWEN2, QWEN3, SMOLLM3 -> {
                boolean use = n.path("use_sliding_window").asBoolean(false);
                if (use && declaredWindow != null) {
                    window = declaredWindow;
                    int from = n.path("max_window_layers").asInt(0);
                    sliding = new ArrayList<>();
                    for (int i = 0; i < layers; i++) {
                        sliding.add(i >= from);
                    }
                }
            }
            case GEMMA2, GEMMA3 -> {
                window = declaredWindow != null ? declaredWindow : 4096;
                int pattern = family == Family.GEMMA2 ? 2
                        : n.hasNonNull("sliding_window_pattern") ? required(n, "sliding_window_pattern")
                        : n.path("_sliding_window_pattern").asInt(6);
                require(pattern > 0, where + ": sliding_window_pattern must be > 0");
                sliding = new ArrayList<>();
                for (int i = 0; i < layers; i++) {
                    sliding.add((i + 1) % pattern != 0);
                }
            }
            default -> {
            }
        }
        if (n.hasNonNull("layer_types") && family.understands("layer_types")) {
            JsonNode types = n.get("layer_types");
            require(types.isArray() && types.size() == layers, where + ": layer_types must list one type per layer ("
                    + layers + ")");
            sliding = new ArrayList<>();
            for (JsonNode t : types) {
                String type = t.asText();
                require(type.equals("sliding_attention") || type.equals("full_attention"), where + ": layer_types entry '"
                        + type + "' is not supported; expected sliding_attention or full_attention");
                sliding.add(type.equals("sliding_attention"));
            }
            if (sliding.contains(true) && window == 0) {
                require(declaredWindow != null, where + ": layer_types has sliding layers but sliding_window is not set");
                window = declaredWindow;
            }
        }
        if (!sliding.contains(true)) {
            window = 0;
        }

        double attentionCap = 0;
        double finalCap = 0;
        double queryScale = 1.0 / Math.sqrt(headDim);
        if (gemma) {
            double gemma2 = family == Family.GEMMA2 ? 1 : 0; // Gemma 2's defaults cap; Gemma 3's do not
            attentionCap = n.has("attn_logit_softcapping") ? optionalPositive(n, "attn_logit_softcapping", where) : 50.0 * gemma2;
            finalCap = n.has("final_logit_softcapping") ? optionalPositive(n, "final_logit_softcapping", where) : 30.0 * gemma2;
            queryScale = 1.0 / Math.sqrt(number(n, "query_pre_attn_scalar", 256, where));
        }
        int[] eos = ids(n.get("eos_token_id"));
        List<Integer> others = new ArrayList<>();
        for (int i = 1; i < eos.length; i++) {
            others.add(eos[i]);
        }
        int vocab = required(n, "vocab_size");
        for (int t : others) {
            require(t >= 0 && t < vocab, where + ": eos_token_id " + t + " is outside the vocabulary");
        }
        return new LlamaConfig(family, vocab, hidden, required(n, "intermediate_size"), layers, heads,
                n.hasNonNull("num_key_value_heads") ? required(n, "num_key_value_heads") : heads, headDim, maxPositions,
                number(n, "rms_norm_eps", 1e-6, where),
                n.path("tie_word_embeddings").asBoolean(gemma || family == Family.SMOLLM3),
                family != Family.PHI3 && n.path("attention_bias").asBoolean(false), mlpBias, rope, localRope, rotated, window,
                sliding, attentionCap, finalCap, queryScale, firstId(n.get("bos_token_id"), 1),
                eos.length > 0 ? eos[0] : 2, others, firstId(n.get("pad_token_id"), 0), text);
    }

    /** Which layers rotate q and k: all, except where SmolLM3's {@code no_rope_layers} says 0. */
    private static List<Boolean> rotatedLayers(JsonNode n, Family family, int layers, String where) {
        if (family != Family.SMOLLM3) {
            return Collections.nCopies(layers, true);
        }
        List<Boolean> out = new ArrayList<>();
        if (n.hasNonNull("no_rope_layers")) {
            JsonNode list = n.get("no_rope_layers");
            require(list.isArray() && list.size() == layers, where + ": no_rope_layers must list one 0 or 1 per layer ("
                    + layers + ")");
            for (JsonNode v : list) {
                require(v.isInt() && (v.asInt() == 0 || v.asInt() == 1), where + ": no_rope_layers entries must be 0 or 1");
                out.add(v.asInt() == 1);
            }
        } else {
            int interval = n.path("no_rope_layer_interval").asInt(4);
            require(interval > 0, where + ": no_rope_layer_interval must be > 0");
            for (int i = 0; i < layers; i++) {
                out.add((i + 1) % interval != 0);
            }
        }
        return out;
    }

    /** A key that is not the family's and not known to change nothing is refused: its arithmetic is unknown. */
    private static void refuseUnknownKeys(JsonNode n, Family family) {
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isNull() && !family.understands(e.getKey()) && !e.getKey().equals("quantization_config")) {
                throw new IllegalArgumentException(family.architecture() + ": config.json key '" + e.getKey()
                        + "' is not understood (it may change the model's arithmetic, so it is refused rather than ignored)");
            }
        }
        double partial = n.path("partial_rotary_factor").asDouble(1.0);
        if (partial != 1.0 && family != Family.PHI3) {
            throw new IllegalArgumentException(family.architecture() + ": partial_rotary_factor " + partial
                    + " is not supported for this family (transformers rotates the whole head here)");
        }
    }

    private static int required(JsonNode n, String field) {
        if (!n.hasNonNull(field) || !n.get(field).canConvertToInt() || !n.get(field).isIntegralNumber()) {
            throw new IllegalArgumentException("config.json: " + field + " is missing or not an integer");
        }
        return n.get(field).asInt();
    }

    private static double number(JsonNode n, String field, double fallback, String where) {
        if (!n.hasNonNull(field)) {
            return fallback;
        }
        JsonNode v = n.get(field);
        if (!v.isNumber() || !(v.asDouble() > 0) || !Double.isFinite(v.asDouble())) {
            throw new IllegalArgumentException(where + ": " + field + " must be a number > 0, got " + v);
        }
        return v.asDouble();
    }

    private static double optionalPositive(JsonNode n, String field, String where) {
        return n.get(field).isNull() ? 0 : number(n, field, 0, where);
    }

    /** HF allows a single id or a list of ids. */
    private static int[] ids(JsonNode node) {
        if (node == null || node.isNull()) {
            return new int[0];
        }
        if (node.isArray()) {
            int[] out = new int[node.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = node.get(i).asInt();
            }
            return out;
        }
        return node.isNumber() ? new int[]{node.asInt()} : new int[0];
    }

    private static int firstId(JsonNode node, int fallback) {
        int[] all = ids(node);
        return all.length > 0 ? all[0] : fallback;
    }

    public String toJson() {
        return toJson(DataType.FLOAT32);
    }

    /**
     * config.json, stating the type the weights are stored in. A config read from a folder is written back as it
     * was, with the dtype and the eos ids (the answer's end first) updated; a generated one is written in full.
     */
    public String toJson(DataType weights) {
        ObjectNode n;
        if (source != null) {
            try {
                n = (ObjectNode) JSON.readTree(source);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            if (!n.has("architectures")) {
                n.putArray("architectures").add(family.architecture());
            }
        } else {
            n = JSON.createObjectNode();
            n.putArray("architectures").add(family.architecture());
            n.put("model_type", family.modelType());
            n.put("vocab_size", vocabSize);
            n.put("hidden_size", hiddenSize);
            n.put("intermediate_size", intermediateSize);
            n.put("num_hidden_layers", numLayers);
            n.put("num_attention_heads", numHeads);
            n.put("num_key_value_heads", numKvHeads);
            n.put("head_dim", headDim);
            n.put("max_position_embeddings", maxPositions);
            n.put("rope_theta", rope.theta());
            n.put("rms_norm_eps", rmsNormEps);
            n.put("tie_word_embeddings", tieWordEmbeddings);
            n.put("attention_bias", attentionBias);
            n.put("hidden_act", family.activation());
            n.put("bos_token_id", bosTokenId);
            n.put("pad_token_id", padTokenId);
        }
        if (alsoStopOn.isEmpty()) {
            n.put("eos_token_id", eosTokenId);
        } else {
            ArrayNode ids = n.putArray("eos_token_id");
            stopTokens().forEach(ids::add);
        }
        n.put("torch_dtype", Precision.nameOf(weights));
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(n);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The HF tensor names of this architecture, in a fixed order. */
    public List<String> parameterNames() {
        List<String> names = new ArrayList<>();
        names.add("model.embed_tokens.weight");
        for (int i = 0; i < numLayers; i++) {
            String p = "model.layers." + i + ".";
            for (String proj : family.attentionProjections()) {
                names.add(p + "self_attn." + proj + ".weight");
                boolean output = proj.equals("o_proj");
                if (output ? outputBias() : qkvBias() && !family.fusedProjections()) {
                    names.add(p + "self_attn." + proj + ".bias");
                }
            }
            if (family.qkNorm() != Family.QkNorm.NONE) {
                names.add(p + "self_attn.q_norm.weight");
                names.add(p + "self_attn.k_norm.weight");
            }
            for (String proj : family.mlpProjections()) {
                names.add(p + "mlp." + proj + ".weight");
                if (mlpBias) {
                    names.add(p + "mlp." + proj + ".bias");
                }
            }
            for (String norm : family.layerNorms()) {
                names.add(p + norm + ".weight");
            }
        }
        names.add("model.norm.weight");
        if (!tieWordEmbeddings) {
            names.add("lm_head.weight");
        }
        return names;
    }

    /** The shape of each named tensor, as Hugging Face stores it (linear weights are [out, in]). */
    /** The number of elements of parameter {@code name}. */
    public long sizeOf(String name) {
        long n = 1;
        for (long d : shapeOf(name)) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** The number of parameters a model of this configuration has. */
    public long parameterCount() {
        return parameterNames().stream().mapToLong(this::sizeOf).sum();
    }

    public long[] shapeOf(String name) {
        long d = hiddenSize;
        long q = (long) numHeads * headDim;
        long kv = (long) numKvHeads * headDim;
        long inter = intermediateSize;
        String module = name.substring(name.lastIndexOf('.', name.lastIndexOf('.') - 1) + 1, name.lastIndexOf('.'));
        boolean bias = name.endsWith(".bias");
        if (name.equals("model.embed_tokens.weight") || name.equals("lm_head.weight")) {
            return new long[]{vocabSize, d};
        }
        if (name.endsWith("layernorm.weight") || name.equals("model.norm.weight")) {
            return new long[]{d};
        }
        long[] outIn = switch (module) {
            case "q_proj" -> new long[]{q, d};
            case "k_proj", "v_proj" -> new long[]{kv, d};
            case "qkv_proj" -> new long[]{q + 2 * kv, d};
            case "o_proj" -> new long[]{d, q};
            case "gate_proj", "up_proj" -> new long[]{inter, d};
            case "gate_up_proj" -> new long[]{2 * inter, d};
            case "down_proj" -> new long[]{d, inter};
            case "q_norm" -> new long[]{family.qkNorm() == Family.QkNorm.WHOLE ? q : headDim};
            case "k_norm" -> new long[]{family.qkNorm() == Family.QkNorm.WHOLE ? kv : headDim};
            default -> null;
        };
        boolean known = outIn != null && (!module.endsWith("_norm") || family.qkNorm() != Family.QkNorm.NONE);
        if (!known) {
            throw new IllegalArgumentException("no tensor named " + name + " in " + family.architecture());
        }
        return bias ? new long[]{outIn[0]} : outIn;
    }
}
