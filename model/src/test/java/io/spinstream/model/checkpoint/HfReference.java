package io.spinstream.model.checkpoint;

import java.util.Map;

/**
 * An independent Llama forward pass in plain Java doubles, straight from the Hugging Face modeling code
 * (rotate_half rotary embeddings, repeat_kv, SiLU-gated MLP), to check the DJL model's logits against.
 */
final class HfReference {
    private final Map<String, float[]> w;
    private final int vocab, hidden, inter, layers, heads, kvHeads, headDim;
    private final double eps, theta;
    private final boolean tied;

    HfReference(Map<String, float[]> weights, int vocab, int hidden, int inter, int layers, int heads, int kvHeads,
                double eps, double theta, boolean tied) {
        this.w = weights;
        this.vocab = vocab;
        this.hidden = hidden;
        this.inter = inter;
        this.layers = layers;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = hidden / heads;
        this.eps = eps;
        this.theta = theta;
        this.tied = tied;
    }

    /** logits[t][v] for one sequence. */
    double[][] logits(int[] ids) {
        int n = ids.length;
        double[][] x = new double[n][hidden];
        for (int t = 0; t < n; t++) {
            for (int d = 0; d < hidden; d++) {
                x[t][d] = w.get("model.embed_tokens.weight")[ids[t] * hidden + d];
            }
        }
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            double[][] h = norm(x, w.get(p + "input_layernorm.weight"));
            double[][] q = linear(h, p + "self_attn.q_proj", hidden);
            double[][] k = linear(h, p + "self_attn.k_proj", kvHeads * headDim);
            double[][] v = linear(h, p + "self_attn.v_proj", kvHeads * headDim);
            for (int t = 0; t < n; t++) {
                rope(q[t], heads, t);
                rope(k[t], kvHeads, t);
            }
            double[][] attn = new double[n][hidden];
            for (int hd = 0; hd < heads; hd++) {
                int kvh = hd / (heads / kvHeads);
                for (int t = 0; t < n; t++) {
                    double[] s = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int u = 0; u <= t; u++) {
                        double dot = 0;
                        for (int d = 0; d < headDim; d++) {
                            dot += q[t][hd * headDim + d] * k[u][kvh * headDim + d];
                        }
                        s[u] = dot / Math.sqrt(headDim);
                        max = Math.max(max, s[u]);
                    }
                    double z = 0;
                    for (int u = 0; u <= t; u++) {
                        s[u] = Math.exp(s[u] - max);
                        z += s[u];
                    }
                    for (int u = 0; u <= t; u++) {
                        for (int d = 0; d < headDim; d++) {
                            attn[t][hd * headDim + d] += s[u] / z * v[u][kvh * headDim + d];
                        }
                    }
                }
            }
            add(x, linear(attn, p + "self_attn.o_proj", hidden));
            double[][] m = norm(x, w.get(p + "post_attention_layernorm.weight"));
            double[][] gate = linear(m, p + "mlp.gate_proj", inter);
            double[][] up = linear(m, p + "mlp.up_proj", inter);
            for (int t = 0; t < n; t++) {
                for (int i = 0; i < inter; i++) {
                    double g = gate[t][i];
                    gate[t][i] = g / (1 + Math.exp(-g)) * up[t][i];
                }
            }
            add(x, linear(gate, p + "mlp.down_proj", hidden));
        }
        double[][] out = norm(x, w.get("model.norm.weight"));
        return linearByName(out, tied ? "model.embed_tokens.weight" : "lm_head.weight", null, vocab);
    }

    private double[][] norm(double[][] x, float[] weight) {
        double[][] out = new double[x.length][hidden];
        for (int t = 0; t < x.length; t++) {
            double ms = 0;
            for (double v : x[t]) {
                ms += v * v;
            }
            double r = 1 / Math.sqrt(ms / hidden + eps);
            for (int d = 0; d < hidden; d++) {
                out[t][d] = x[t][d] * r * weight[d];
            }
        }
        return out;
    }

    private double[][] linear(double[][] x, String prefix, int outDim) {
        return linearByName(x, prefix + ".weight", w.get(prefix + ".bias"), outDim);
    }

    private double[][] linearByName(double[][] x, String weightName, float[] bias, int outDim) {
        float[] weight = w.get(weightName);
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

    private void rope(double[] vec, int nHeads, int pos) {
        int half = headDim / 2;
        for (int hd = 0; hd < nHeads; hd++) {
            int base = hd * headDim;
            double[] orig = java.util.Arrays.copyOfRange(vec, base, base + headDim);
            for (int i = 0; i < headDim; i++) {
                double freq = 1.0 / Math.pow(theta, (2.0 * (i % half)) / headDim);
                double rotated = i < half ? -orig[i + half] : orig[i - half];
                vec[base + i] = orig[i] * Math.cos(pos * freq) + rotated * Math.sin(pos * freq);
            }
        }
    }

    private static void add(double[][] x, double[][] y) {
        for (int t = 0; t < x.length; t++) {
            for (int d = 0; d < x[t].length; d++) {
                x[t][d] += y[t][d];
            }
        }
    }
}
