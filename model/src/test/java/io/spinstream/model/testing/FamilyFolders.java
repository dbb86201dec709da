package io.spinstream.model.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Tiny Hugging Face folders of each supported family in its real layout, written with none of the project's model
 * classes: config.json with the family's own keys (values shrunk), BF16 safetensors under the family's tensor
 * names, a byte-level BPE tokenizer.json with merges and the family's special tokens, tokenizer_config.json with
 * the family's published chat template, generation_config.json with its list of eos ids.
 */
public final class FamilyFolders {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Merges of the test tokenizer: "Ġthe" is three merges deep. */
    static final List<String> MERGES = List.of("Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "o n", "Ġ w", "a t", "Ġ s",
            "r e", "i s");
    public static final int VOCAB = 320;

    /** The families, by the short names tests use. */
    public static final List<String> FAMILIES = List.of("llama3", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "phi3",
            "olmo2", "smollm3");

    /** A written folder: its config, its weights (BF16-rounded, by tensor name), and its special tokens' ids. */
    public record Written(Path dir, JsonNode config, Map<String, float[]> weights, Map<String, Integer> specials,
                          int eos, String template) {
    }

    private record Chat(List<String> specials, String bos, String eos, String template) {
    }

    private FamilyFolders() {
    }

    private static Chat chat(String family) {
        return switch (family) {
            case "llama3" -> new Chat(List.of("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                    "<|end_header_id|>", "<|eot_id|>"), "<|begin_of_text|>", "<|eot_id|>", "llama3.2-instruct.jinja");
            case "mistral" -> new Chat(List.of("<s>", "</s>"), "<s>", "</s>", "mistral-instruct-v0.1.jinja");
            case "qwen3" -> new Chat(List.of("<|endoftext|>", "<|im_start|>", "<|im_end|>"), null, "<|im_end|>", "qwen3.jinja");
            // OLMo 2's and SmolLM3's own templates are not among the test resources: ChatML stands in for them.
            case "qwen2", "smollm3", "olmo2" -> new Chat(List.of("<|endoftext|>", "<|im_start|>", "<|im_end|>"), null,
                    "<|im_end|>", "qwen2.5-instruct.jinja");
            case "gemma2", "gemma3" -> new Chat(List.of("<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>"),
                    "<bos>", "<end_of_turn>", "gemma3-it.jinja");
            case "phi3" -> new Chat(List.of("<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>", "<|system|>"), "<s>",
                    "<|end|>", "phi3.5-mini-instruct.jinja");
            default -> throw new IllegalArgumentException(family);
        };
    }

    /** config.json of a tiny model of {@code family}: the keys its published config.json carries. */
    static ObjectNode config(String family, Map<String, Integer> ids) {
        ObjectNode c = JSON.createObjectNode();
        c.put("vocab_size", VOCAB).put("hidden_size", 32).put("intermediate_size", 48).put("num_attention_heads", 4)
                .put("num_key_value_heads", 2).put("initializer_range", 0.02).put("use_cache", true)
                .put("torch_dtype", "bfloat16").put("transformers_version", "4.53.0").put("attention_dropout", 0.0);
        switch (family) {
            case "llama3" -> { // Llama 3.2 1B's keys, llama3 rope scaling with every band of it in use
                c.putArray("architectures").add("LlamaForCausalLM");
                c.put("model_type", "llama").put("num_hidden_layers", 2).put("head_dim", 8).put("hidden_act", "silu")
                        .put("attention_bias", false).put("mlp_bias", false).put("pretraining_tp", 1)
                        .put("max_position_embeddings", 2048).put("rms_norm_eps", 1e-5).put("rope_theta", 500000.0)
                        .put("tie_word_embeddings", true).put("bos_token_id", ids.get("<|begin_of_text|>"));
                c.putObject("rope_scaling").put("factor", 32.0).put("high_freq_factor", 4.0).put("low_freq_factor", 1.0)
                        .put("original_max_position_embeddings", 256).put("rope_type", "llama3");
                c.putArray("eos_token_id").add(ids.get("<|end_of_text|>")).add(ids.get("<|eot_id|>"));
            }
            case "mistral" -> { // Mistral 7B v0.1: a sliding window over every layer
                c.putArray("architectures").add("MistralForCausalLM");
                c.put("model_type", "mistral").put("num_hidden_layers", 2).put("hidden_act", "silu")
                        .put("max_position_embeddings", 512).put("rms_norm_eps", 1e-5).put("rope_theta", 10000.0)
                        .put("sliding_window", 4).put("tie_word_embeddings", false)
                        .put("bos_token_id", ids.get("<s>")).put("eos_token_id", ids.get("</s>"));
            }
            case "qwen2" -> { // Qwen2.5: q/k/v bias, tied, the window switched off as published
                c.putArray("architectures").add("Qwen2ForCausalLM");
                c.put("model_type", "qwen2").put("num_hidden_layers", 2).put("hidden_act", "silu")
                        .put("max_position_embeddings", 512).put("max_window_layers", 21).put("rms_norm_eps", 1e-6)
                        .putNull("rope_scaling").put("rope_theta", 1000000.0).put("sliding_window", 4)
                        .put("use_sliding_window", false).put("tie_word_embeddings", true)
                        .put("bos_token_id", ids.get("<|endoftext|>")).put("eos_token_id", ids.get("<|im_end|>"));
            }
            case "qwen3" -> { // Qwen3: head_dim apart from hidden/heads, q/k norms, yarn as its long-context card adds
                c.putArray("architectures").add("Qwen3ForCausalLM");
                c.put("model_type", "qwen3").put("num_hidden_layers", 2).put("head_dim", 12).put("hidden_act", "silu")
                        .put("attention_bias", false).put("max_position_embeddings", 256).put("max_window_layers", 28)
                        .put("rms_norm_eps", 1e-6).put("rope_theta", 1000000.0).putNull("sliding_window")
                        .put("use_sliding_window", false).put("tie_word_embeddings", true)
                        .put("bos_token_id", ids.get("<|endoftext|>")).put("eos_token_id", ids.get("<|im_end|>"));
                c.putObject("rope_scaling").put("rope_type", "yarn").put("factor", 4.0)
                        .put("original_max_position_embeddings", 64);
            }
            case "gemma2" -> { // Gemma 2: (1+w) norms around both sublayers, soft-caps, alternating windows
                c.putArray("architectures").add("Gemma2ForCausalLM");
                c.put("model_type", "gemma2").put("num_hidden_layers", 3).put("head_dim", 12)
                        .put("hidden_act", "gelu_pytorch_tanh").put("hidden_activation", "gelu_pytorch_tanh")
                        .put("attention_bias", false).put("max_position_embeddings", 512).put("rms_norm_eps", 1e-6)
                        .put("rope_theta", 10000.0).put("query_pre_attn_scalar", 16).put("attn_logit_softcapping", 2.0)
                        .put("final_logit_softcapping", 3.0).put("sliding_window", 4).put("cache_implementation", "hybrid")
                        .put("pad_token_id", ids.get("<pad>")).put("bos_token_id", ids.get("<bos>"))
                        .put("eos_token_id", ids.get("<eos>"));
            }
            case "gemma3" -> { // Gemma 3 text: q/k norms, local rope base, linear scaling on global layers only
                c.putArray("architectures").add("Gemma3ForCausalLM");
                c.put("model_type", "gemma3_text").put("num_hidden_layers", 3).put("head_dim", 12)
                        .put("hidden_activation", "gelu_pytorch_tanh").put("attention_bias", false)
                        .putNull("attn_logit_softcapping").putNull("final_logit_softcapping")
                        .put("max_position_embeddings", 512).put("query_pre_attn_scalar", 12).put("rms_norm_eps", 1e-6)
                        .put("rope_local_base_freq", 10000.0).put("rope_theta", 1000000.0).put("sliding_window", 4)
                        .put("sliding_window_pattern", 3).put("cache_implementation", "hybrid")
                        .put("pad_token_id", ids.get("<pad>")).put("bos_token_id", ids.get("<bos>"));
                c.putObject("rope_scaling").put("rope_type", "linear").put("factor", 8.0);
                c.putArray("eos_token_id").add(ids.get("<eos>")).add(ids.get("<end_of_turn>"));
            }
            case "phi3" -> { // Phi-3.5/4-mini: fused projections, partial rotary, longrope, a window
                c.putArray("architectures").add("Phi3ForCausalLM");
                c.put("model_type", "phi3").put("num_hidden_layers", 2).put("hidden_act", "silu")
                        .put("embd_pdrop", 0.0).put("resid_pdrop", 0.0).put("max_position_embeddings", 256)
                        .put("original_max_position_embeddings", 64).put("partial_rotary_factor", 0.75)
                        .put("rms_norm_eps", 1e-5).put("rope_theta", 10000.0).put("sliding_window", 5)
                        .put("tie_word_embeddings", false).put("bos_token_id", ids.get("<|endoftext|>"))
                        .put("pad_token_id", ids.get("<|endoftext|>"));
                ObjectNode rope = c.putObject("rope_scaling").put("type", "longrope");
                rope.putArray("short_factor").add(1.0).add(1.3).add(2.1);
                rope.putArray("long_factor").add(1.1).add(4.0).add(9.5);
                c.putArray("eos_token_id").add(ids.get("<|endoftext|>")).add(ids.get("<|end|>"));
            }
            case "olmo2" -> { // OLMo 2: norms after each sublayer, q/k norms over the whole projection
                c.putArray("architectures").add("Olmo2ForCausalLM");
                c.put("model_type", "olmo2").put("num_hidden_layers", 2).put("hidden_act", "silu")
                        .put("attention_bias", false).put("max_position_embeddings", 512).put("rms_norm_eps", 1e-6)
                        .put("rope_theta", 500000.0).put("tie_word_embeddings", false)
                        .put("pad_token_id", ids.get("<|endoftext|>")).put("eos_token_id", ids.get("<|im_end|>"));
                c.putObject("rope_scaling").put("rope_type", "dynamic").put("factor", 2.0);
            }
            case "smollm3" -> { // SmolLM3: every fourth layer without rotary embeddings (here the third of three)
                c.putArray("architectures").add("SmolLM3ForCausalLM");
                c.put("model_type", "smollm3").put("num_hidden_layers", 3).put("hidden_act", "silu")
                        .put("attention_bias", false).put("mlp_bias", false).put("pretraining_tp", 1)
                        .put("max_position_embeddings", 512).put("max_window_layers", 28).put("rms_norm_eps", 1e-6)
                        .put("rope_theta", 5000000.0).putNull("rope_scaling").putNull("sliding_window")
                        .put("use_sliding_window", false).put("tie_word_embeddings", true).put("no_rope_layer_interval", 4)
                        .put("pad_token_id", ids.get("<|endoftext|>")).putNull("bos_token_id")
                        .put("eos_token_id", ids.get("<|im_end|>"));
                c.putArray("no_rope_layers").add(1).add(1).add(0);
            }
            default -> throw new IllegalArgumentException(family);
        }
        return c;
    }

    /** The family's tensors and their shapes, named as its transformers class names them. */
    public static Map<String, long[]> shapes(String family, JsonNode c) {
        int d = c.get("hidden_size").asInt();
        int heads = c.get("num_attention_heads").asInt();
        int kv = c.get("num_key_value_heads").asInt();
        int hd = c.has("head_dim") ? c.get("head_dim").asInt() : d / heads;
        int inter = c.get("intermediate_size").asInt();
        int layers = c.get("num_hidden_layers").asInt();
        Map<String, long[]> s = new LinkedHashMap<>();
        s.put("model.embed_tokens.weight", new long[]{VOCAB, d});
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            if (family.equals("phi3")) {
                s.put(p + "self_attn.qkv_proj.weight", new long[]{(long) (heads + 2 * kv) * hd, d});
            } else {
                s.put(p + "self_attn.q_proj.weight", new long[]{(long) heads * hd, d});
                s.put(p + "self_attn.k_proj.weight", new long[]{(long) kv * hd, d});
                s.put(p + "self_attn.v_proj.weight", new long[]{(long) kv * hd, d});
            }
            if (family.equals("qwen2")) {
                s.put(p + "self_attn.q_proj.bias", new long[]{(long) heads * hd});
                s.put(p + "self_attn.k_proj.bias", new long[]{(long) kv * hd});
                s.put(p + "self_attn.v_proj.bias", new long[]{(long) kv * hd});
            }
            s.put(p + "self_attn.o_proj.weight", new long[]{d, (long) heads * hd});
            if (family.equals("qwen3") || family.equals("gemma3")) {
                s.put(p + "self_attn.q_norm.weight", new long[]{hd});
                s.put(p + "self_attn.k_norm.weight", new long[]{hd});
            } else if (family.equals("olmo2")) {
                s.put(p + "self_attn.q_norm.weight", new long[]{(long) heads * hd});
                s.put(p + "self_attn.k_norm.weight", new long[]{(long) kv * hd});
            }
            if (family.equals("phi3")) {
                s.put(p + "mlp.gate_up_proj.weight", new long[]{2L * inter, d});
            } else {
                s.put(p + "mlp.gate_proj.weight", new long[]{inter, d});
                s.put(p + "mlp.up_proj.weight", new long[]{inter, d});
            }
            s.put(p + "mlp.down_proj.weight", new long[]{d, inter});
            if (!family.equals("olmo2")) {
                s.put(p + "input_layernorm.weight", new long[]{d});
            }
            s.put(p + "post_attention_layernorm.weight", new long[]{d});
            if (family.startsWith("gemma")) {
                s.put(p + "pre_feedforward_layernorm.weight", new long[]{d});
            }
            if (family.startsWith("gemma") || family.equals("olmo2")) {
                s.put(p + "post_feedforward_layernorm.weight", new long[]{d});
            }
        }
        s.put("model.norm.weight", new long[]{d});
        boolean tied = c.has("tie_word_embeddings") ? c.get("tie_word_embeddings").asBoolean() : family.startsWith("gemma");
        if (!tied) {
            s.put("lm_head.weight", new long[]{VOCAB, d});
        }
        return s;
    }

    /** Writes the folder of {@code family} into {@code dir}. */
    public static Written write(Path dir, String family, long seed) throws IOException {
        Files.createDirectories(dir);
        Chat chat = chat(family);
        ObjectNode tokenizer = tokenizer(chat.specials());
        Map<String, Integer> ids = new LinkedHashMap<>();
        for (JsonNode t : tokenizer.get("added_tokens")) {
            ids.put(t.get("content").asText(), t.get("id").asInt());
        }
        ObjectNode config = config(family, ids);
        Files.writeString(dir.resolve("config.json"), config.toPrettyString());

        Map<String, long[]> shapes = shapes(family, config);
        Random random = new Random(seed);
        Map<String, float[]> weights = new LinkedHashMap<>();
        boolean offset = family.startsWith("gemma"); // Gemma stores norm weights as offsets from one
        shapes.forEach((name, shape) -> {
            int n = 1;
            for (long x : shape) {
                n *= (int) x;
            }
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                double value = name.endsWith("norm.weight") ? (offset ? 0 : 1) + 0.1 * random.nextGaussian()
                        : name.endsWith(".bias") ? 0.1 * random.nextGaussian() : 0.15 * random.nextGaussian();
                v[i] = Float.intBitsToFloat(Float.floatToIntBits((float) value) & 0xFFFF0000); // BF16
            }
            weights.put(name, v);
        });
        HfFolders.writeSafetensors(dir.resolve("model.safetensors"), new ArrayList<>(shapes.keySet()), shapes, weights, "BF16");

        Files.writeString(dir.resolve("tokenizer.json"), tokenizer.toPrettyString());
        String template = resource(chat.template());
        ObjectNode tc = JSON.createObjectNode();
        tc.put("add_bos_token", false).put("chat_template", template).put("bos_token", chat.bos())
                .put("eos_token", chat.eos()).put("model_max_length", 512).put("clean_up_tokenization_spaces", false);
        Files.writeString(dir.resolve("tokenizer_config.json"), tc.toPrettyString());
        ObjectNode gen = JSON.createObjectNode();
        gen.set("eos_token_id", config.get("eos_token_id"));
        gen.put("transformers_version", "4.53.0");
        Files.writeString(dir.resolve("generation_config.json"), gen.toPrettyString());
        return new Written(dir, config, weights, ids, ids.get(chat.eos()), template);
    }

    static String resource(String name) throws IOException {
        try (InputStream in = FamilyFolders.class.getResourceAsStream("/chat-templates/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /**
     * A byte-level BPE tokenizer.json: the 256 byte symbols of GPT-2's byte-to-unicode map (ids 0–255), one token per
     * merge after them, then the special tokens.
     */
    static ObjectNode tokenizer(List<String> specials) {
        ObjectNode t = JSON.createObjectNode();
        t.put("version", "1.0").putNull("truncation").putNull("padding");
        ArrayNode added = t.putArray("added_tokens");
        t.putNull("normalizer");
        t.putObject("pre_tokenizer").put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true)
                .put("use_regex", true);
        t.putNull("post_processor");
        t.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", true)
                .put("use_regex", true);
        ObjectNode model = t.putObject("model");
        model.put("type", "BPE").putNull("dropout").putNull("unk_token").putNull("continuing_subword_prefix")
                .putNull("end_of_word_suffix").put("fuse_unk", false).put("byte_fallback", false).put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        char[] symbols = byteSymbols();
        for (int b = 0; b < 256; b++) {
            vocab.put(String.valueOf(symbols[b]), b);
        }
        ArrayNode merges = model.putArray("merges");
        for (String m : MERGES) {
            merges.add(m);
            vocab.put(m.replace(" ", ""), vocab.size());
        }
        for (String s : specials) {
            int id = vocab.size();
            vocab.put(s, id);
            added.addObject().put("id", id).put("content", s).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        }
        return t;
    }

    /** GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others for code points from 256 on. */
    static char[] byteSymbols() {
        char[] out = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            out[b] = printable ? (char) b : (char) next++;
        }
        return out;
    }
}
