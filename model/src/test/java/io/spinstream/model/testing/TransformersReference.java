package io.spinstream.model.testing;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.Map;
import java.util.Arrays;

/**
 * An independent forward pass in doubles, one sequence at a time, written step by step from transformers' modeling
 * code of each family (llama, mistral, qwen2, qwen3, gemma2, gemma3, phi3, olmo2, smollm3) and from
 * {@code modeling_rope_utils.py}, reading config.json itself. It shares no code with the project's model.
 */
public final class TransformersReference {
    private final JsonNode c;
    private final Map<String, float[]> w;
    private final String type;
    private final int d;
    private final int heads;
    private final int kv;
    private final int hd;
    private final int inter;
    private final int layers;
    private final int vocab;
    private final double eps;
    private final boolean gemma;

    public TransformersReference(JsonNode config, Map<String, float[]> weights) {
        this.c = config;
        this.w = weights;
        String modelType = config.get("model_type").asText();
        this.type = modelType.equals("gemma3_text") ? "gemma3" : modelType; // Gemma3ForCausalLM's text config
        this.d = config.get("hidden_size").asInt();
        this.heads = config.get("num_attention_heads").asInt();
        this.kv = config.get("num_key_value_heads").asInt();
        this.hd = config.has("head_dim") ? config.get("head_dim").asInt() : d / heads;
        this.inter = config.get("intermediate_size").asInt();
        this.layers = config.get("num_hidden_layers").asInt();
        this.vocab = config.get("vocab_size").asInt();
        this.eps = config.get("rms_norm_eps").asDouble();
        this.gemma = type.startsWith("gemma");
    }

    /** Per-token log p(ids[t+1] | ids[..t]), t = 0..n-2. */
    public double[] tokenLogProbs(int[] ids) {
        double[][] logits = logits(ids);
        double[] out = new double[ids.length - 1];
        for (int t = 0; t + 1 < ids.length; t++) {
            double max = Double.NEGATIVE_INFINITY;
            for (double v : logits[t]) {
                max = Math.max(max, v);
            }
            double z = 0;
            for (double v : logits[t]) {
                z += Math.exp(v - max);
            }
            out[t] = logits[t][ids[t + 1]] - max - Math.log(z);
        }
        return out;
    }

    public double[][] logits(int[] ids) {
        int n = ids.length;
        double[][] x = new double[n][d];
        float[] embed = w.get("model.embed_tokens.weight");
        double normalizer = gemma ? (double) (float) Math.sqrt(d) : 1.0; // hidden_size ** 0.5 in the weights' dtype
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < d; i++) {
                x[t][i] = embed[ids[t] * d + i] * normalizer;
            }
        }
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            double[][] attnIn = type.equals("olmo2") ? x : norm(x, p + "input_layernorm.weight");
            double[][] attn = attention(l, attnIn);
            if (gemma || type.equals("olmo2")) {
                attn = norm(attn, p + "post_attention_layernorm.weight");
            }
            x = add(x, attn);
            double[][] mlpIn = gemma ? norm(x, p + "pre_feedforward_layernorm.weight")
                    : type.equals("olmo2") ? x : norm(x, p + "post_attention_layernorm.weight");
            double[][] mlp = mlp(p, mlpIn);
            if (gemma || type.equals("olmo2")) {
                mlp = norm(mlp, p + "post_feedforward_layernorm.weight");
            }
            x = add(x, mlp);
        }
        double[][] h = norm(x, "model.norm.weight");
        String head = w.containsKey("lm_head.weight") ? "lm_head.weight" : "model.embed_tokens.weight";
        double[][] logits = linear(h, w.get(head), null, vocab);
        double cap = c.path("final_logit_softcapping").asDouble(0);
        if (cap > 0) {
            for (double[] row : logits) {
                for (int v = 0; v < row.length; v++) {
                    row[v] = cap * Math.tanh(row[v] / cap);
                }
            }
        }
        return logits;
    }

    private double[][] attention(int l, double[][] h) {
        int n = h.length;
        String p = "model.layers." + l + ".self_attn.";
        double[][] q;
        double[][] k;
        double[][] v;
        if (type.equals("phi3")) { // qkv_proj: [q; k; v] along the output
            double[][] qkv = linear(h, w.get(p + "qkv_proj.weight"), null, (heads + 2 * kv) * hd);
            q = slice(qkv, 0, heads * hd);
            k = slice(qkv, heads * hd, kv * hd);
            v = slice(qkv, (heads + kv) * hd, kv * hd);
        } else {
            q = linear(h, w.get(p + "q_proj.weight"), w.get(p + "q_proj.bias"), heads * hd);
            k = linear(h, w.get(p + "k_proj.weight"), w.get(p + "k_proj.bias"), kv * hd);
            v = linear(h, w.get(p + "v_proj.weight"), w.get(p + "v_proj.bias"), kv * hd);
        }
        if (type.equals("olmo2")) { // Olmo2Attention: q_norm(q_proj(x)), k_norm(k_proj(x)) over the whole projection
            q = norm(q, p + "q_norm.weight");
            k = norm(k, p + "k_norm.weight");
        }
        if (type.equals("qwen3") || type.equals("gemma3")) { // per head, on view(..., head_dim), before the rotation
            q = perHeadNorm(q, heads, p + "q_norm.weight");
            k = perHeadNorm(k, kv, p + "k_norm.weight");
        }
        boolean sliding = isSliding(l);
        if (usesRope(l)) {
            boolean local = type.equals("gemma3") && sliding;
            double[] inv = inverseFrequencies(local);
            double factor = local ? 1.0 : attentionFactor();
            for (int t = 0; t < n; t++) {
                rotate(q[t], heads, t, inv, factor);
                rotate(k[t], kv, t, inv, factor);
            }
        }
        double scale = gemma ? Math.pow(c.get("query_pre_attn_scalar").asDouble(), -0.5) : 1 / Math.sqrt(hd);
        double cap = gemma ? c.path("attn_logit_softcapping").asDouble(0) : 0;
        int window = sliding ? c.get("sliding_window").asInt() : Integer.MAX_VALUE;
        double[][] out = new double[n][heads * hd];
        for (int head = 0; head < heads; head++) {
            int g = head / (heads / kv); // repeat_kv
            for (int t = 0; t < n; t++) {
                double[] s = new double[t + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int u = 0; u <= t; u++) {
                    if (t - u >= window) { // sliding_window_overlay: kv_idx > q_idx - sliding_window
                        s[u] = Double.NEGATIVE_INFINITY;
                        continue;
                    }
                    double dot = 0;
                    for (int i = 0; i < hd; i++) {
                        dot += q[t][head * hd + i] * k[u][g * hd + i];
                    }
                    dot *= scale;
                    if (cap > 0) {
                        dot = cap * Math.tanh(dot / cap);
                    }
                    s[u] = dot;
                    max = Math.max(max, dot);
                }
                double z = 0;
                for (int u = 0; u <= t; u++) {
                    s[u] = Math.exp(s[u] - max);
                    z += s[u];
                }
                for (int u = 0; u <= t; u++) {
                    for (int i = 0; i < hd; i++) {
                        out[t][head * hd + i] += s[u] / z * v[u][g * hd + i];
                    }
                }
            }
        }
        return linear(out, w.get(p + "o_proj.weight"), w.get(p + "o_proj.bias"), d);
    }

    private double[][] mlp(String p, double[][] m) {
        double[][] gate;
        double[][] up;
        if (type.equals("phi3")) { // gate_up_proj, then chunk(2): gate first
            double[][] both = linear(m, w.get(p + "mlp.gate_up_proj.weight"), null, 2 * inter);
            gate = slice(both, 0, inter);
            up = slice(both, inter, inter);
        } else {
            gate = linear(m, w.get(p + "mlp.gate_proj.weight"), null, inter);
            up = linear(m, w.get(p + "mlp.up_proj.weight"), null, inter);
        }
        for (int t = 0; t < m.length; t++) {
            for (int i = 0; i < inter; i++) {
                double g = gate[t][i];
                double act = gemma ? 0.5 * g * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (g + 0.044715 * g * g * g)))
                        : g / (1 + Math.exp(-g));
                gate[t][i] = act * up[t][i];
            }
        }
        return linear(gate, w.get(p + "mlp.down_proj.weight"), null, d);
    }

    /** layer_types as each family's config builds them. */
    boolean isSliding(int l) {
        if (c.hasNonNull("layer_types")) {
            return c.get("layer_types").get(l).asText().equals("sliding_attention");
        }
        return switch (type) {
            case "mistral", "phi3" -> c.hasNonNull("sliding_window");
            case "qwen2", "qwen3", "smollm3" -> c.path("use_sliding_window").asBoolean(false) && c.hasNonNull("sliding_window")
                    && l >= c.path("max_window_layers").asInt();
            case "gemma2" -> (l + 1) % 2 != 0;
            case "gemma3" -> (l + 1) % c.path("sliding_window_pattern").asInt(6) != 0;
            default -> false;
        };
    }

    private boolean usesRope(int l) {
        return !type.equals("smollm3") || c.get("no_rope_layers").get(l).asInt() == 1;
    }

    private int rotaryDim() {
        return (int) (hd * c.path("partial_rotary_factor").asDouble(1.0));
    }

    /** modeling_rope_utils: the inverse frequencies of each rope type (sequences within the original context). */
    double[] inverseFrequencies(boolean local) {
        double base = local ? c.get("rope_local_base_freq").asDouble() : c.get("rope_theta").asDouble();
        int dim = rotaryDim();
        double[] inv = new double[dim / 2];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = 1.0 / Math.pow(base, (double) (2 * i) / dim);
        }
        JsonNode rs = local ? null : c.get("rope_scaling");
        if (rs == null || rs.isNull()) {
            return inv;
        }
        String rope = rs.has("rope_type") ? rs.get("rope_type").asText() : rs.get("type").asText();
        int max = c.get("max_position_embeddings").asInt();
        switch (rope) {
            case "linear" -> {
                for (int i = 0; i < inv.length; i++) {
                    inv[i] /= rs.get("factor").asDouble();
                }
            }
            case "dynamic" -> { // seq_len defaults to max_position_embeddings
                double factor = rs.get("factor").asDouble();
                double seqLen = max;
                double b = base * Math.pow(factor * seqLen / max - (factor - 1), (double) dim / (dim - 2));
                for (int i = 0; i < inv.length; i++) {
                    inv[i] = 1.0 / Math.pow(b, (double) (2 * i) / dim);
                }
            }
            case "llama3" -> {
                double factor = rs.get("factor").asDouble();
                double low = rs.get("low_freq_factor").asDouble();
                double high = rs.get("high_freq_factor").asDouble();
                double old = rs.get("original_max_position_embeddings").asDouble();
                double lowWavelen = old / low;
                double highWavelen = old / high;
                for (int i = 0; i < inv.length; i++) {
                    double wavelen = 2 * Math.PI / inv[i];
                    double f = wavelen > lowWavelen ? inv[i] / factor : inv[i];
                    double smooth = (old / wavelen - low) / (high - low);
                    double smoothed = (1 - smooth) * f / factor + smooth * f;
                    boolean medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
                    inv[i] = medium ? smoothed : f;
                }
            }
            case "yarn" -> {
                double factor = rs.get("factor").asDouble();
                int original = max;
                if (rs.has("original_max_position_embeddings")) {
                    original = rs.get("original_max_position_embeddings").asInt();
                    factor = (double) max / original;
                }
                double betaFast = rs.path("beta_fast").asDouble(32);
                double betaSlow = rs.path("beta_slow").asDouble(1);
                double low = Math.max(Math.floor(dim * Math.log(original / (betaFast * 2 * Math.PI)) / (2 * Math.log(base))), 0);
                double high = Math.min(Math.ceil(dim * Math.log(original / (betaSlow * 2 * Math.PI)) / (2 * Math.log(base))),
                        dim - 1);
                if (low == high) {
                    high += 0.001;
                }
                for (int i = 0; i < inv.length; i++) {
                    double posFreq = Math.pow(base, (double) (2 * i) / dim);
                    double ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
                    double extrapolationFactor = 1 - ramp;
                    inv[i] = 1 / (factor * posFreq) * (1 - extrapolationFactor) + 1 / posFreq * extrapolationFactor;
                }
            }
            case "longrope" -> { // short factors within original_max_position_embeddings
                JsonNode shortFactor = rs.get("short_factor");
                for (int i = 0; i < inv.length; i++) {
                    inv[i] = 1.0 / (shortFactor.get(i).asDouble() * Math.pow(base, (double) (2 * i) / dim));
                }
            }
            default -> throw new IllegalArgumentException("reference has no rope type " + rope);
        }
        return inv;
    }

    /** cos and sin are multiplied by it (yarn's mscale, longrope's). */
    double attentionFactor() {
        JsonNode rs = c.get("rope_scaling");
        if (rs == null || rs.isNull()) {
            return 1.0;
        }
        String rope = rs.has("rope_type") ? rs.get("rope_type").asText() : rs.get("type").asText();
        int max = c.get("max_position_embeddings").asInt();
        return switch (rope) {
            case "yarn" -> {
                double factor = rs.has("original_max_position_embeddings")
                        ? (double) max / rs.get("original_max_position_embeddings").asInt() : rs.get("factor").asDouble();
                yield factor <= 1 ? 1.0 : 0.1 * Math.log(factor) + 1.0;
            }
            case "longrope" -> {
                int original = c.get("original_max_position_embeddings").asInt();
                double factor = (double) max / original;
                yield factor <= 1 ? 1.0 : Math.sqrt(1 + Math.log(factor) / Math.log(original));
            }
            default -> 1.0;
        };
    }

    /** apply_rotary_pos_emb with rotate_half over the first rotaryDim dims of each head; the rest pass through. */
    private void rotate(double[] vec, int nHeads, int pos, double[] inv, double factor) {
        int dim = rotaryDim();
        int half = dim / 2;
        for (int h = 0; h < nHeads; h++) {
            int b = h * hd;
            double[] orig = Arrays.copyOfRange(vec, b, b + dim);
            for (int i = 0; i < dim; i++) {
                double angle = pos * inv[i % half];
                double rotated = i < half ? -orig[i + half] : orig[i - half];
                vec[b + i] = orig[i] * Math.cos(angle) * factor + rotated * Math.sin(angle) * factor;
            }
        }
    }

    private double[][] norm(double[][] x, String weight) {
        float[] g = w.get(weight);
        int width = g.length;
        double[][] out = new double[x.length][width];
        for (int t = 0; t < x.length; t++) {
            double ms = 0;
            for (int i = 0; i < width; i++) {
                ms += x[t][i] * x[t][i];
            }
            double r = 1 / Math.sqrt(ms / width + eps);
            for (int i = 0; i < width; i++) {
                out[t][i] = x[t][i] * r * (gemma ? 1.0 + g[i] : g[i]);
            }
        }
        return out;
    }

    private double[][] perHeadNorm(double[][] x, int nHeads, String weight) {
        float[] g = w.get(weight);
        double[][] out = new double[x.length][nHeads * hd];
        for (int t = 0; t < x.length; t++) {
            for (int h = 0; h < nHeads; h++) {
                double ms = 0;
                for (int i = 0; i < hd; i++) {
                    ms += x[t][h * hd + i] * x[t][h * hd + i];
                }
                double r = 1 / Math.sqrt(ms / hd + eps);
                for (int i = 0; i < hd; i++) {
                    out[t][h * hd + i] = x[t][h * hd + i] * r * (gemma ? 1.0 + g[i] : g[i]);
                }
            }
        }
        return out;
    }

    private static double[][] linear(double[][] x, float[] weight, float[] bias, int outDim) {
        int in = x[0].length;
        double[][] out = new double[x.length][outDim];
        for (int t = 0; t < x.length; t++) {
            for (int o = 0; o < outDim; o++) {
                double s = bias == null ? 0 : bias[o];
                for (int i = 0; i < in; i++) {
                    s += weight[o * in + i] * x[t][i];
                }
                out[t][o] = s;
            }
        }
        return out;
    }

    private static double[][] slice(double[][] x, int from, int width) {
        double[][] out = new double[x.length][width];
        for (int t = 0; t < x.length; t++) {
            System.arraycopy(x[t], from, out[t], 0, width);
        }
        return out;
    }

    private static double[][] add(double[][] x, double[][] y) {
        double[][] out = new double[x.length][x[0].length];
        for (int t = 0; t < x.length; t++) {
            for (int i = 0; i < x[t].length; i++) {
                out[t][i] = x[t][i] + y[t][i];
            }
        }
        return out;
    }
}
