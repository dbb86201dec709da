package io.spinstream.model.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.spinstream.model.Family;
import io.spinstream.model.LlamaConfig;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A LoRA adapter's shape, as PEFT's {@code adapter_config.json} states it: rank r, lora_alpha, dropout on the
 * adapter's input, the projections it adapts, and whether the scale is alpha/r (PEFT's default) or
 * alpha/√r (rsLoRA).
 */
public record LoraConfig(int rank, double alpha, double dropout, List<String> targets, boolean rsLora) {
    /** The linear projections of a Llama-family layer, by their Hugging Face module names. */
    public static final List<String> PROJECTIONS = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
            "down_proj");
    /** Every projection name a supported family has: the seven above, and Phi-3's fused ones. */
    public static final List<String> KNOWN = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
            "down_proj", "qkv_proj", "gate_up_proj");
    private static final Set<String> ATTENTION = Set.of("q_proj", "k_proj", "v_proj", "o_proj", "qkv_proj");
    private static final ObjectMapper JSON = new ObjectMapper();

    public LoraConfig {
        if (rank <= 0) {
            throw new IllegalArgumentException("LoRA rank must be > 0, got " + rank);
        }
        if (!(alpha > 0) || !Double.isFinite(alpha)) {
            throw new IllegalArgumentException("lora_alpha must be > 0, got " + alpha);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("lora_dropout must be in [0, 1), got " + dropout);
        }
        targets = List.copyOf(targets);
        if (targets.isEmpty()) {
            throw new IllegalArgumentException("LoRA needs at least one target module, one of " + PROJECTIONS);
        }
        for (String t : targets) {
            if (!KNOWN.contains(t)) {
                throw new IllegalArgumentException("LoRA target '" + t + "' is not a projection of this model; expected some of "
                        + KNOWN);
            }
        }
    }

    /** PEFT's usual start: all seven projections, no dropout. */
    public static LoraConfig of(int rank, double alpha) {
        return new LoraConfig(rank, alpha, 0.0, PROJECTIONS, false);
    }

    /** What the adapter's output is multiplied by. */
    public double scale() {
        return rsLora ? alpha / Math.sqrt(rank) : alpha / rank;
    }

    /**
     * The same adapter over {@code family}'s own module names: where the family fuses projections (Phi-3's
     * {@code qkv_proj}, {@code gate_up_proj}) a target of any of its parts adapts the fused module, and a fused
     * target adapts the parts of a family that keeps them apart. PEFT's {@code target_modules} then name modules
     * the family's transformers class has.
     */
    public LoraConfig forFamily(Family family) {
        List<String> own = new ArrayList<>();
        for (String p : family.attentionProjections()) {
            if (covers(p)) {
                own.add(p);
            }
        }
        for (String p : family.mlpProjections()) {
            if (covers(p)) {
                own.add(p);
            }
        }
        if (own.isEmpty()) {
            throw new IllegalArgumentException("LoRA targets " + targets + " name no projection of " + family.architecture()
                    + "; its projections are " + family.attentionProjections() + " and " + family.mlpProjections());
        }
        return new LoraConfig(rank, alpha, dropout, own, rsLora);
    }

    /** Whether a target names module {@code p}, or a part of it, or a fused module it is part of. */
    private boolean covers(String p) {
        return switch (p) {
            case "qkv_proj" -> targets.contains(p) || targets.contains("q_proj") || targets.contains("k_proj")
                    || targets.contains("v_proj");
            case "gate_up_proj" -> targets.contains(p) || targets.contains("gate_proj") || targets.contains("up_proj");
            case "q_proj", "k_proj", "v_proj" -> targets.contains(p) || targets.contains("qkv_proj");
            case "gate_proj", "up_proj" -> targets.contains(p) || targets.contains("gate_up_proj");
            default -> targets.contains(p);
        };
    }

    /** The full module names this adapter adapts in {@code model} (its family's names), in checkpoint order. */
    public List<String> modules(LlamaConfig model) {
        LoraConfig own = forFamily(model.family());
        List<String> out = new ArrayList<>();
        for (int i = 0; i < model.numLayers(); i++) {
            for (String p : own.targets) {
                out.add(moduleName(i, p));
            }
        }
        return out;
    }

    public static String moduleName(int layer, String projection) {
        return "model.layers." + layer + (ATTENTION.contains(projection) ? ".self_attn." : ".mlp.") + projection;
    }

    /** PEFT's name of a module's A or B matrix in {@code adapter_model.safetensors}. */
    public static String tensorName(String module, char matrix) {
        return "base_model.model." + module + ".lora_" + matrix + ".weight";
    }

    /** {@code adapter_config.json} as PEFT writes it for a causal LM. */
    public String toPeftJson(String baseModel) {
        ObjectNode n = JSON.createObjectNode();
        n.putObject("alpha_pattern");
        n.putNull("auto_mapping");
        n.put("base_model_name_or_path", baseModel);
        n.put("bias", "none");
        n.put("fan_in_fan_out", false);
        n.put("inference_mode", true);
        n.put("init_lora_weights", true);
        n.putNull("layers_pattern");
        n.putNull("layers_to_transform");
        n.put("lora_alpha", alpha);
        n.put("lora_dropout", dropout);
        n.putNull("modules_to_save");
        n.put("peft_type", "LORA");
        n.put("r", rank);
        n.putObject("rank_pattern");
        n.putNull("revision");
        targets.forEach(n.putArray("target_modules")::add);
        n.put("task_type", "CAUSAL_LM");
        n.put("use_dora", false);
        n.put("use_rslora", rsLora);
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(n);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Reads PEFT's {@code adapter_config.json}; refuses what this model cannot apply exactly (another PEFT
     * method, DoRA, per-module ranks, trained biases, extra trained modules, transposed weights).
     */
    public static LoraConfig fromPeftJson(String text) {
        JsonNode n;
        try {
            n = JSON.readTree(text);
        } catch (IOException e) {
            throw new IllegalArgumentException("adapter_config.json is not valid JSON: " + e.getMessage(), e);
        }
        String type = n.path("peft_type").asText("");
        if (!type.equals("LORA")) {
            throw new IllegalArgumentException("adapter_config.json: peft_type is '" + type + "', only LORA is supported");
        }
        refuseIf(n.path("use_dora").asBoolean(false), "use_dora is true (DoRA is not supported)");
        refuseIf(!n.path("bias").asText("none").equals("none"), "bias is '" + n.path("bias").asText() + "' (only 'none')");
        refuseIf(n.path("fan_in_fan_out").asBoolean(false), "fan_in_fan_out is true (a Conv1D model, not a Llama)");
        refuseIf(n.path("rank_pattern").size() > 0 || n.path("alpha_pattern").size() > 0,
                "rank_pattern/alpha_pattern give per-module ranks (not supported)");
        refuseIf(n.hasNonNull("modules_to_save") && n.path("modules_to_save").size() > 0,
                "modules_to_save trains whole modules beside the adapter (not supported)");
        if (!n.path("r").canConvertToInt() || !n.path("lora_alpha").isNumber()) {
            throw new IllegalArgumentException("adapter_config.json: r and lora_alpha must be numbers");
        }
        JsonNode t = n.path("target_modules");
        List<String> targets = new ArrayList<>();
        if (t.isArray()) {
            t.forEach(x -> {
                // PEFT matches a listed name against the end of the module's name.
                String name = x.asText();
                targets.add(name.substring(name.lastIndexOf('.') + 1));
            });
        } else if (t.isTextual() && t.asText().equals("all-linear")) {
            targets.addAll(KNOWN); // narrowed to the model's own projections when applied
        } else {
            throw new IllegalArgumentException("adapter_config.json: target_modules must be a list of module names or"
                    + " 'all-linear', got " + t);
        }
        return new LoraConfig(n.path("r").asInt(), n.path("lora_alpha").asDouble(), n.path("lora_dropout").asDouble(0),
                targets.stream().distinct().toList(), n.path("use_rslora").asBoolean(false));
    }

    private static void refuseIf(boolean bad, String why) {
        if (bad) {
            throw new IllegalArgumentException("adapter_config.json: " + why);
        }
    }
}
