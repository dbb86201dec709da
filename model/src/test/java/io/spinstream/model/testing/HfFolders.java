package io.spinstream.model.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spinstream.model.tokenizer.ByteLevelBpe;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Writes tiny Hugging Face model folders as transformers lays them out, with code independent of the
 * project's writers: config.json, model.safetensors (or shards with model.safetensors.index.json),
 * tokenizer.json (byte level, with the chat special tokens added), tokenizer_config.json with a chat
 * template, generation_config.json.
 */
public final class HfFolders {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Byte-level vocabulary (3 specials + 256 bytes) plus the ChatML turn markers. */
    public static final List<String> CHAT_TOKENS = List.of("<|im_start|>", "<|im_end|>");
    public static final String CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content']"
            + " + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /**
     * @param architecture LlamaForCausalLM, MistralForCausalLM or Qwen2ForCausalLM
     * @param dtype        F32, F16 or BF16
     * @param shards       1: model.safetensors; more: an index and that many shard files
     * @param chatTemplate null: no tokenizer_config.json chat template
     */
    public record Spec(String architecture, int vocab, int hidden, int layers, int heads, int kvHeads, String dtype,
                       int shards, String chatTemplate, long seed) {
        public static Spec tinyQwen2() {
            return new Spec("Qwen2ForCausalLM", 264, 32, 2, 4, 2, "BF16", 2, CHATML, 7);
        }

        public Spec withArchitecture(String a) {
            return new Spec(a, vocab, hidden, layers, heads, kvHeads, dtype, shards, chatTemplate, seed);
        }

        public Spec withVocab(int v) {
            return new Spec(architecture, v, hidden, layers, heads, kvHeads, dtype, shards, chatTemplate, seed);
        }

        int inter() {
            return hidden * 3 / 2;
        }
    }

    private HfFolders() {
    }

    /** Writes the folder; returns its weights by tensor name (as float values after the dtype's rounding). */
    public static Map<String, float[]> write(Path dir, Spec s) throws IOException {
        Files.createDirectories(dir);
        boolean qwen = s.architecture().equals("Qwen2ForCausalLM");
        ObjectNode config = JSON.createObjectNode();
        config.putArray("architectures").add(s.architecture());
        config.put("model_type", switch (s.architecture()) {
            case "Qwen2ForCausalLM" -> "qwen2";
            case "MistralForCausalLM" -> "mistral";
            default -> "llama";
        });
        config.put("vocab_size", s.vocab()).put("hidden_size", s.hidden()).put("intermediate_size", s.inter())
                .put("num_hidden_layers", s.layers()).put("num_attention_heads", s.heads())
                .put("num_key_value_heads", s.kvHeads()).put("max_position_embeddings", 128).put("rms_norm_eps", 1e-6)
                .put("rope_theta", 10000.0).put("tie_word_embeddings", qwen).put("hidden_act", "silu")
                .put("bos_token_id", 1).put("eos_token_id", 2)
                .put("torch_dtype", switch (s.dtype()) {
                    case "BF16" -> "bfloat16";
                    case "F16" -> "float16";
                    default -> "float32";
                });
        Files.writeString(dir.resolve("config.json"), config.toPrettyString());

        int headDim = s.hidden() / s.heads();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put("model.embed_tokens.weight", new long[]{s.vocab(), s.hidden()});
        for (int l = 0; l < s.layers(); l++) {
            String p = "model.layers." + l + ".";
            shapes.put(p + "input_layernorm.weight", new long[]{s.hidden()});
            shapes.put(p + "self_attn.q_proj.weight", new long[]{s.hidden(), s.hidden()});
            shapes.put(p + "self_attn.k_proj.weight", new long[]{(long) s.kvHeads() * headDim, s.hidden()});
            shapes.put(p + "self_attn.v_proj.weight", new long[]{(long) s.kvHeads() * headDim, s.hidden()});
            if (qwen) {
                shapes.put(p + "self_attn.q_proj.bias", new long[]{s.hidden()});
                shapes.put(p + "self_attn.k_proj.bias", new long[]{(long) s.kvHeads() * headDim});
                shapes.put(p + "self_attn.v_proj.bias", new long[]{(long) s.kvHeads() * headDim});
            }
            shapes.put(p + "self_attn.o_proj.weight", new long[]{s.hidden(), s.hidden()});
            shapes.put(p + "post_attention_layernorm.weight", new long[]{s.hidden()});
            shapes.put(p + "mlp.gate_proj.weight", new long[]{s.inter(), s.hidden()});
            shapes.put(p + "mlp.up_proj.weight", new long[]{s.inter(), s.hidden()});
            shapes.put(p + "mlp.down_proj.weight", new long[]{s.hidden(), s.inter()});
        }
        shapes.put("model.norm.weight", new long[]{s.hidden()});
        if (!qwen) {
            shapes.put("lm_head.weight", new long[]{s.vocab(), s.hidden()});
        }
        Random random = new Random(s.seed());
        Map<String, float[]> weights = new LinkedHashMap<>();
        shapes.forEach((name, shape) -> {
            int n = 1;
            for (long d : shape) {
                n *= (int) d;
            }
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = round((float) (name.endsWith("norm.weight") ? 1 + 0.1 * random.nextGaussian() : 0.2 * random.nextGaussian()),
                        s.dtype());
            }
            weights.put(name, v);
        });
        List<String> names = new ArrayList<>(shapes.keySet());
        if (s.shards() <= 1) {
            writeSafetensors(dir.resolve("model.safetensors"), names, shapes, weights, s.dtype());
        } else {
            ObjectNode index = JSON.createObjectNode();
            index.putObject("metadata").put("total_size", 0);
            ObjectNode map = index.putObject("weight_map");
            int per = (names.size() + s.shards() - 1) / s.shards();
            for (int k = 0; k < s.shards(); k++) {
                String file = String.format("model-%05d-of-%05d.safetensors", k + 1, s.shards());
                List<String> part = names.subList(Math.min(names.size(), k * per), Math.min(names.size(), (k + 1) * per));
                writeSafetensors(dir.resolve(file), part, shapes, weights, s.dtype());
                part.forEach(n -> map.put(n, file));
            }
            Files.writeString(dir.resolve("model.safetensors.index.json"), index.toPrettyString());
        }

        ObjectNode tokenizer = (ObjectNode) JSON.readTree(ByteLevelBpe.bytesOnly());
        ArrayNode added = (ArrayNode) tokenizer.get("added_tokens");
        ObjectNode vocab = (ObjectNode) tokenizer.get("model").get("vocab");
        for (String t : CHAT_TOKENS) {
            int id = vocab.size();
            vocab.put(t, id);
            added.addObject().put("id", id).put("content", t).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        }
        Files.writeString(dir.resolve("tokenizer.json"), tokenizer.toPrettyString());
        if (s.chatTemplate() != null) {
            ObjectNode tc = JSON.createObjectNode();
            tc.put("chat_template", s.chatTemplate()).put("bos_token", (String) null).put("eos_token", "<|im_end|>")
                    .put("pad_token", "<pad>").put("model_max_length", 128);
            Files.writeString(dir.resolve("tokenizer_config.json"), tc.toPrettyString());
        }
        ObjectNode gen = JSON.createObjectNode();
        gen.put("bos_token_id", 1);
        gen.putArray("eos_token_id").add(vocab.get("<|im_end|>").asInt()).add(2);
        Files.writeString(dir.resolve("generation_config.json"), gen.toPrettyString());
        return weights;
    }

    private static float round(float f, String dtype) {
        return switch (dtype) {
            case "BF16" -> Float.intBitsToFloat(Float.floatToIntBits(f) & 0xFFFF0000);
            case "F16" -> Float.float16ToFloat(Float.floatToFloat16(f));
            default -> f;
        };
    }

    /** Every tensor of a safetensors file (F32, F16 or BF16) as float values, read byte by byte as the format says. */
    public static Map<String, float[]> readSafetensors(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        ByteBuffer buf = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        int headerLength = (int) buf.getLong(0);
        com.fasterxml.jackson.databind.JsonNode header = JSON.readTree(new String(all, 8, headerLength, StandardCharsets.UTF_8));
        Map<String, float[]> out = new LinkedHashMap<>();
        for (var it = header.fields(); it.hasNext(); ) {
            var e = it.next();
            if (e.getKey().equals("__metadata__")) {
                continue;
            }
            String dtype = e.getValue().get("dtype").asText();
            long from = e.getValue().get("data_offsets").get(0).asLong();
            long to = e.getValue().get("data_offsets").get(1).asLong();
            int width = dtype.equals("F32") ? 4 : 2;
            float[] v = new float[(int) ((to - from) / width)];
            int base = 8 + headerLength + (int) from;
            for (int i = 0; i < v.length; i++) {
                v[i] = switch (dtype) {
                    case "F32" -> buf.getFloat(base + 4 * i);
                    case "F16" -> Float.float16ToFloat(buf.getShort(base + 2 * i));
                    case "BF16" -> Float.intBitsToFloat((buf.getShort(base + 2 * i) & 0xFFFF) << 16);
                    default -> throw new IllegalArgumentException("dtype " + dtype);
                };
            }
            out.put(e.getKey(), v);
        }
        return out;
    }

    /** A safetensors file of the named tensors (F32, F16 or BF16), written byte by byte as the format says. */
    public static void writeSafetensors(Path file, List<String> names, Map<String, long[]> shapes, Map<String, float[]> weights,
                                        String dtype) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        header.putObject("__metadata__").put("format", "pt");
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        int width = dtype.equals("F32") ? 4 : 2;
        for (String name : names) {
            ObjectNode t = header.putObject(name);
            t.put("dtype", dtype);
            ArrayNode shape = t.putArray("shape");
            for (long d : shapes.get(name)) {
                shape.add(d);
            }
            long start = data.size();
            float[] v = weights.get(name);
            ByteBuffer buf = ByteBuffer.allocate(v.length * width).order(ByteOrder.LITTLE_ENDIAN);
            for (float f : v) {
                switch (dtype) {
                    case "BF16" -> buf.putShort((short) (Float.floatToIntBits(f) >>> 16));
                    case "F16" -> buf.putShort(Float.floatToFloat16(f));
                    default -> buf.putFloat(f);
                }
            }
            data.write(buf.array());
            t.putArray("data_offsets").add(start).add(data.size());
        }
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
        out.write(h);
        out.write(data.toByteArray());
        Files.write(file, out.toByteArray());
    }
}
