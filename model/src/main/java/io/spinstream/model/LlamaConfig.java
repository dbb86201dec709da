package io.spinstream.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * The architecture of a Llama-family decoder, read from and written to a Hugging Face {@code config.json}
 * (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM).
 *
 * @param attentionBias q/k/v projections carry a bias (Qwen2 always; Llama when {@code attention_bias})
 */
public record LlamaConfig(String architecture, int vocabSize, int hiddenSize, int intermediateSize, int numLayers,
                          int numHeads, int numKvHeads, int maxPositions, double ropeTheta, double rmsNormEps,
                          boolean tieWordEmbeddings, boolean attentionBias, int bosTokenId, int eosTokenId,
                          int padTokenId) {

    public static final Set<String> ARCHITECTURES = Set.of("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM");
    private static final ObjectMapper JSON = new ObjectMapper();

    public LlamaConfig {
        if (!ARCHITECTURES.contains(architecture)) {
            throw new IllegalArgumentException("architecture " + architecture + " is not supported; expected one of " + ARCHITECTURES);
        }
        require(vocabSize > 0, "vocab_size must be > 0");
        require(hiddenSize > 0 && numHeads > 0 && hiddenSize % numHeads == 0,
                "hidden_size (" + hiddenSize + ") must be a multiple of num_attention_heads (" + numHeads + ")");
        require(numKvHeads > 0 && numHeads % numKvHeads == 0,
                "num_attention_heads (" + numHeads + ") must be a multiple of num_key_value_heads (" + numKvHeads + ")");
        require((hiddenSize / numHeads) % 2 == 0, "the head dimension must be even for rotary embeddings");
        require(numLayers > 0 && intermediateSize > 0 && maxPositions > 0, "layers, intermediate size and positions must be > 0");
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    public int headDim() {
        return hiddenSize / numHeads;
    }

    /** A small Llama for tests, demos and benchmarks. */
    public static LlamaConfig tiny(int vocab, int hidden, int layers, int heads, int kvHeads, int maxPositions) {
        // Llama's MLP width: about 8/3 of the hidden size, rounded up to a multiple of 64.
        int intermediate = (hidden * 8 / 3 + 63) / 64 * 64;
        return new LlamaConfig("LlamaForCausalLM", vocab, hidden, intermediate, layers, heads, kvHeads, maxPositions,
                10000.0, 1e-5, false, false, 1, 2, 0);
    }

    public LlamaConfig withTiedEmbeddings(boolean tied) {
        return new LlamaConfig(architecture, vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads,
                maxPositions, ropeTheta, rmsNormEps, tied, attentionBias, bosTokenId, eosTokenId, padTokenId);
    }

    /** The same model stopping on another token (-1: never, as benchmarks want). */
    public LlamaConfig withEos(int eos) {
        return new LlamaConfig(architecture, vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads,
                maxPositions, ropeTheta, rmsNormEps, tieWordEmbeddings, attentionBias, bosTokenId, eos, padTokenId);
    }

    public LlamaConfig withArchitecture(String arch, boolean bias) {
        return new LlamaConfig(arch, vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads,
                maxPositions, ropeTheta, rmsNormEps, tieWordEmbeddings, bias, bosTokenId, eosTokenId, padTokenId);
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
        String arch = n.path("architectures").path(0).asText(null);
        if (arch == null) {
            arch = switch (n.path("model_type").asText("")) {
                case "llama" -> "LlamaForCausalLM";
                case "mistral" -> "MistralForCausalLM";
                case "qwen2" -> "Qwen2ForCausalLM";
                default -> throw new IllegalArgumentException("config.json names no architecture and no known model_type");
            };
        }
        int heads = required(n, "num_attention_heads");
        boolean qwen = arch.equals("Qwen2ForCausalLM");
        return new LlamaConfig(arch,
                required(n, "vocab_size"),
                required(n, "hidden_size"),
                required(n, "intermediate_size"),
                required(n, "num_hidden_layers"),
                heads,
                n.path("num_key_value_heads").asInt(heads),
                n.path("max_position_embeddings").asInt(2048),
                n.path("rope_theta").asDouble(10000.0),
                n.path("rms_norm_eps").asDouble(1e-6),
                n.path("tie_word_embeddings").asBoolean(false),
                qwen || n.path("attention_bias").asBoolean(false),
                firstInt(n.path("bos_token_id"), 1),
                firstInt(n.path("eos_token_id"), 2),
                firstInt(n.path("pad_token_id"), 0));
    }

    private static int required(JsonNode n, String field) {
        if (!n.hasNonNull(field) || !n.get(field).canConvertToInt()) {
            throw new IllegalArgumentException("config.json: " + field + " is missing or not an integer");
        }
        return n.get(field).asInt();
    }

    /** HF allows a list of eos ids; the first one is the one generation stops on here. */
    private static int firstInt(JsonNode node, int fallback) {
        if (node.isArray()) {
            return node.size() > 0 ? node.get(0).asInt() : fallback;
        }
        return node.isNumber() ? node.asInt() : fallback;
    }

    public String toJson() {
        return toJson(ai.djl.ndarray.types.DataType.FLOAT32);
    }

    /** config.json, stating the type the weights are stored in. */
    public String toJson(ai.djl.ndarray.types.DataType weights) {
        ObjectNode n = JSON.createObjectNode();
        n.putArray("architectures").add(architecture);
        n.put("model_type", switch (architecture) {
            case "MistralForCausalLM" -> "mistral";
            case "Qwen2ForCausalLM" -> "qwen2";
            default -> "llama";
        });
        n.put("vocab_size", vocabSize);
        n.put("hidden_size", hiddenSize);
        n.put("intermediate_size", intermediateSize);
        n.put("num_hidden_layers", numLayers);
        n.put("num_attention_heads", numHeads);
        n.put("num_key_value_heads", numKvHeads);
        n.put("max_position_embeddings", maxPositions);
        n.put("rope_theta", ropeTheta);
        n.put("rms_norm_eps", rmsNormEps);
        n.put("tie_word_embeddings", tieWordEmbeddings);
        n.put("attention_bias", attentionBias);
        n.put("hidden_act", "silu");
        n.put("bos_token_id", bosTokenId);
        n.put("eos_token_id", eosTokenId);
        n.put("pad_token_id", padTokenId);
        n.put("torch_dtype", Precision.nameOf(weights));
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(n);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The HF tensor names of this architecture, in a fixed order. */
    public List<String> parameterNames() {
        List<String> names = new java.util.ArrayList<>();
        names.add("model.embed_tokens.weight");
        for (int i = 0; i < numLayers; i++) {
            String p = "model.layers." + i + ".";
            names.add(p + "input_layernorm.weight");
            for (String proj : List.of("q_proj", "k_proj", "v_proj")) {
                names.add(p + "self_attn." + proj + ".weight");
                if (attentionBias) {
                    names.add(p + "self_attn." + proj + ".bias");
                }
            }
            names.add(p + "self_attn.o_proj.weight");
            names.add(p + "post_attention_layernorm.weight");
            names.add(p + "mlp.gate_proj.weight");
            names.add(p + "mlp.up_proj.weight");
            names.add(p + "mlp.down_proj.weight");
        }
        names.add("model.norm.weight");
        if (!tieWordEmbeddings) {
            names.add("lm_head.weight");
        }
        return names;
    }

    /** The shape of each named tensor, as Hugging Face stores it (linear weights are [out, in]). */
    public long[] shapeOf(String name) {
        int d = hiddenSize;
        int kv = numKvHeads * headDim();
        if (name.equals("model.embed_tokens.weight") || name.equals("lm_head.weight")) {
            return new long[]{vocabSize, d};
        }
        if (name.endsWith("layernorm.weight") || name.equals("model.norm.weight")) {
            return new long[]{d};
        }
        if (name.endsWith("q_proj.weight") || name.endsWith("o_proj.weight")) {
            return new long[]{d, d};
        }
        if (name.endsWith("k_proj.weight") || name.endsWith("v_proj.weight")) {
            return new long[]{kv, d};
        }
        if (name.endsWith("q_proj.bias")) {
            return new long[]{d};
        }
        if (name.endsWith("k_proj.bias") || name.endsWith("v_proj.bias")) {
            return new long[]{kv};
        }
        if (name.endsWith("gate_proj.weight") || name.endsWith("up_proj.weight")) {
            return new long[]{intermediateSize, d};
        }
        if (name.endsWith("down_proj.weight")) {
            return new long[]{d, intermediateSize};
        }
        throw new IllegalArgumentException("no tensor named " + name + " in " + architecture);
    }
}
