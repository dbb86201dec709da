package io.spinstream.model;

import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The decoder families this model computes, each as the few points where its arithmetic differs from Llama's
 * (transformers' modeling code of each): the norm's form and where norms sit, q/k norms, fused projections, the
 * MLP's activation, scaled embeddings, and the config.json keys it understands. Adding a family is adding a
 * constant here (and a reference test); a key a family does not understand is refused, never ignored.
 */
public enum Family {
    LLAMA("LlamaForCausalLM", "llama"),
    MISTRAL("MistralForCausalLM", "mistral", "sliding_window"),
    QWEN2("Qwen2ForCausalLM", "qwen2", "use_sliding_window", "sliding_window", "max_window_layers", "layer_types"),
    QWEN3("Qwen3ForCausalLM", "qwen3", "use_sliding_window", "sliding_window", "max_window_layers", "layer_types"),
    GEMMA2("Gemma2ForCausalLM", "gemma2", "query_pre_attn_scalar", "attn_logit_softcapping", "final_logit_softcapping",
            "sliding_window", "hidden_activation", "layer_types"),
    GEMMA3("Gemma3ForCausalLM", "gemma3_text", "query_pre_attn_scalar", "attn_logit_softcapping", "final_logit_softcapping",
            "sliding_window", "hidden_activation", "layer_types", "rope_local_base_freq", "sliding_window_pattern",
            "use_bidirectional_attention"),
    PHI3("Phi3ForCausalLM", "phi3", "original_max_position_embeddings", "sliding_window", "partial_rotary_factor",
            "lm_head_bias", "full_attn_mod", "interpolate_factor"),
    OLMO2("Olmo2ForCausalLM", "olmo2"),
    SMOLLM3("SmolLM3ForCausalLM", "smollm3", "no_rope_layers", "no_rope_layer_interval", "use_sliding_window",
            "sliding_window", "max_window_layers", "layer_types");

    /** Where a layer's norms sit. */
    public enum NormPlacement {
        /** before attention and before the MLP (Llama): input_layernorm, post_attention_layernorm */
        PRE,
        /** before and after each (Gemma 2/3): input, post_attention, pre_feedforward, post_feedforward */
        SANDWICH,
        /** after each, on the sublayer's output (OLMo 2): post_attention, post_feedforward */
        POST
    }

    /** RMSNorm of q and k before the rotation. */
    public enum QkNorm {
        NONE,
        /** over each head's dimensions (Qwen3, Gemma 3) */
        PER_HEAD,
        /** over the whole projection (OLMo 2) */
        WHOLE
    }

    /** Keys of every family: the shape, positions, norm epsilon, embeddings, biases. */
    static final Set<String> COMMON_KEYS = Set.of("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
            "num_attention_heads", "num_key_value_heads", "max_position_embeddings", "rms_norm_eps", "rope_theta",
            "rope_scaling", "rope_parameters", "tie_word_embeddings", "head_dim", "hidden_act", "attention_bias", "mlp_bias");

    /**
     * Keys that do not change what the model computes in a forward pass: bookkeeping, token ids, and dropout
     * probabilities (training here applies no dropout to the base model, as transformers does in eval mode).
     */
    static final Set<String> INFORMATIONAL_KEYS = Set.of("architectures", "model_type", "torch_dtype", "dtype",
            "transformers_version", "use_cache", "initializer_range", "attention_dropout", "hidden_dropout", "embd_pdrop",
            "resid_pdrop", "bos_token_id", "eos_token_id", "pad_token_id", "auto_map", "cache_implementation",
            "pretraining_tp", "output_attentions", "output_hidden_states", "return_dict", "use_return_dict",
            "tokenizer_class", "id2label", "label2id", "is_decoder", "chunk_size_feed_forward", "problem_type",
            "max_length", "min_length", "do_sample", "num_beams", "temperature",
            "top_k", "top_p", "repetition_penalty", "keys_to_ignore_at_inference", "finetuning_task", "prefix",
            "task_specific_params", "prune_heads", "torchscript", "use_bfloat16", "tf_legacy_loss", "decoder_start_token_id",
            "sep_token_id", "unk_token_id");

    private final String architecture;
    private final String modelType;
    private final Set<String> ownKeys;

    Family(String architecture, String modelType, String... ownKeys) {
        this.architecture = architecture;
        this.modelType = modelType;
        this.ownKeys = Set.of(ownKeys);
    }

    /** The transformers class a folder of this family names in {@code architectures}. */
    public String architecture() {
        return architecture;
    }

    public String modelType() {
        return modelType;
    }

    public static Family ofArchitecture(String architecture) {
        for (Family f : values()) {
            if (f.architecture.equals(architecture)) {
                return f;
            }
        }
        throw new IllegalArgumentException("architecture " + architecture + " is not supported; expected one of "
                + Arrays.stream(values()).map(Family::architecture).collect(Collectors.joining(", ")));
    }

    public static Family ofModelType(String modelType) {
        for (Family f : values()) {
            if (f.modelType.equals(modelType)) {
                return f;
            }
        }
        throw new IllegalArgumentException("config.json names no architecture and model_type '" + modelType
                + "' is not one of " + Arrays.stream(values()).map(Family::modelType).collect(Collectors.joining(", ")));
    }

    /** Whether config.json's {@code key} is one this family reads (or one that changes nothing). */
    public boolean understands(String key) {
        return COMMON_KEYS.contains(key) || INFORMATIONAL_KEYS.contains(key) || ownKeys.contains(key) || key.startsWith("_");
    }

    /** Gemma's RMSNorm multiplies by (1 + w): its weights are stored as offsets from one. */
    public boolean unitOffsetNorm() {
        return this == GEMMA2 || this == GEMMA3;
    }

    public NormPlacement normPlacement() {
        return switch (this) {
            case GEMMA2, GEMMA3 -> NormPlacement.SANDWICH;
            case OLMO2 -> NormPlacement.POST;
            default -> NormPlacement.PRE;
        };
    }

    public QkNorm qkNorm() {
        return switch (this) {
            case QWEN3, GEMMA3 -> QkNorm.PER_HEAD;
            case OLMO2 -> QkNorm.WHOLE;
            default -> QkNorm.NONE;
        };
    }

    /** Phi-3 stores q, k, v as one {@code qkv_proj} and gate, up as one {@code gate_up_proj}. */
    public boolean fusedProjections() {
        return this == PHI3;
    }

    /** The MLP's gate activation: GELU (tanh approximation) for Gemma, SiLU for the rest. */
    public String activation() {
        return unitOffsetNorm() ? "gelu_pytorch_tanh" : "silu";
    }

    /** Gemma multiplies embeddings by √hidden_size (in the compute type). */
    public boolean scaledEmbeddings() {
        return unitOffsetNorm();
    }

    /** Q/K/V carry a bias whatever attention_bias says (Qwen2). */
    public boolean alwaysQkvBias() {
        return this == QWEN2;
    }

    /** The attention projections by their module names, in checkpoint order. */
    public List<String> attentionProjections() {
        return fusedProjections() ? List.of("qkv_proj", "o_proj") : List.of("q_proj", "k_proj", "v_proj", "o_proj");
    }

    /** The MLP projections by their module names, in checkpoint order. */
    public List<String> mlpProjections() {
        return fusedProjections() ? List.of("gate_up_proj", "down_proj") : List.of("gate_proj", "up_proj", "down_proj");
    }

    /** The norms of a layer, by their module names, in checkpoint order. */
    public List<String> layerNorms() {
        return switch (normPlacement()) {
            case PRE -> List.of("input_layernorm", "post_attention_layernorm");
            case SANDWICH -> List.of("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                    "post_feedforward_layernorm");
            case POST -> List.of("post_attention_layernorm", "post_feedforward_layernorm");
        };
    }
}
