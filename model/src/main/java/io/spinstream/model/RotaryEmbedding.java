package io.spinstream.model;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.Arrays;
import java.util.Locale;

/**
 * Rotary position embeddings as transformers computes them ({@code modeling_rope_utils}): the inverse frequencies
 * of the rotated dimensions, the factor cos and sin are multiplied by, and the positions within which they are exact.
 * The first {@code rotaryDim} dimensions of each head are rotated (rotate_half convention), the rest pass through.
 *
 * @param type             default, linear, dynamic, yarn, longrope or llama3
 * @param theta            the base ({@code rope_theta})
 * @param inverseFrequency one per rotated pair [rotaryDim / 2]
 * @param attentionFactor  cos and sin are scaled by it (yarn, longrope; 1 otherwise)
 * @param exactUpTo        the most positions these frequencies hold for: transformers switches dynamic and longrope
 *                         frequencies with the length of the sequence, so those are exact only within the original
 *                         context, and the model's context is capped there
 */
public record RotaryEmbedding(String type, double theta, int rotaryDim, double[] inverseFrequency, double attentionFactor, int exactUpTo) {

    public RotaryEmbedding {
        if (rotaryDim < 0 || rotaryDim % 2 != 0 || inverseFrequency.length != rotaryDim / 2) {
            throw new IllegalArgumentException("rotary dimensions must be even with one frequency a pair, got " + rotaryDim
                    + " dimensions and " + inverseFrequency.length + " frequencies");
        }
        inverseFrequency = inverseFrequency.clone();
    }

    @Override
    public double[] inverseFrequency() {
        return inverseFrequency.clone();
    }

    /** Plain RoPE over {@code dim} dimensions with base {@code theta}. */
    public static RotaryEmbedding standard(double theta, int dim, int maxPositions) {
        return new RotaryEmbedding("default", theta, dim, defaultFrequencies(theta, dim), 1.0, maxPositions);
    }

    /**
     * The embedding a config.json describes.
     *
     * @param scaling          {@code rope_scaling} (null or JSON null: none)
     * @param theta            {@code rope_theta}
     * @param dim              rotated dimensions: head_dim × partial_rotary_factor, rounded down as int() does
     * @param maxPositions     {@code max_position_embeddings}
     * @param originalTopLevel config.json's own {@code original_max_position_embeddings} (Phi-3), or null
     * @param where            the architecture, for refusals
     */
    public static RotaryEmbedding of(JsonNode scaling, double theta, int dim, int maxPositions, Integer originalTopLevel,
                                     String where) {
        if (dim % 2 != 0 || dim <= 0) {
            throw new IllegalArgumentException(where + ": rotary dimensions (head_dim × partial_rotary_factor) must be even"
                    + " and > 0, got " + dim);
        }
        if (!(theta > 1) || !Double.isFinite(theta)) {
            throw new IllegalArgumentException(where + ": rope_theta must be a number > 1, got " + theta);
        }
        if (scaling == null || scaling.isNull()) {
            return standard(theta, dim, maxPositions);
        }
        if (!scaling.isObject()) {
            throw new IllegalArgumentException(where + ": rope_scaling must be an object or null, got " + scaling);
        }
        String type = scaling.path("rope_type").asText(scaling.path("type").asText("default")).toLowerCase(Locale.ROOT);
        double[] inv = defaultFrequencies(theta, dim);
        return switch (type) {
            case "default" -> standard(theta, dim, maxPositions);
            case "linear" -> {
                double factor = number(scaling, "factor", where);
                yield new RotaryEmbedding(type, theta, dim, Arrays.stream(inv).map(f -> f / factor).toArray(), 1.0, maxPositions);
            }
            // Within max_position_embeddings the dynamic base equals the plain one; beyond, transformers changes the
            // frequencies with each pass's length (cached keys would disagree), so the context stops there.
            case "dynamic" -> {
                number(scaling, "factor", where);
                yield new RotaryEmbedding(type, theta, dim, inv, 1.0, maxPositions);
            }
            case "llama3" -> llama3(scaling, theta, dim, inv, maxPositions, where);
            case "yarn" -> yarn(scaling, theta, dim, maxPositions, where);
            case "longrope", "su" -> longrope(scaling, theta, dim, maxPositions, originalTopLevel, where);
            default -> throw new IllegalArgumentException(where + ": rope_scaling type '" + type + "' is not supported;"
                    + " expected one of default, linear, dynamic, yarn, longrope, llama3");
        };
    }

    private static double[] defaultFrequencies(double theta, int dim) {
        double[] inv = new double[dim / 2];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = 1.0 / Math.pow(theta, (2.0 * i) / dim);
        }
        return inv;
    }

    private static RotaryEmbedding llama3(JsonNode s, double theta, int dim, double[] inv, int maxPositions, String where) {
        double factor = number(s, "factor", where);
        double low = number(s, "low_freq_factor", where);
        double high = number(s, "high_freq_factor", where);
        double old = number(s, "original_max_position_embeddings", where);
        if (!(high > low)) {
            throw new IllegalArgumentException(where + ": rope_scaling high_freq_factor must exceed low_freq_factor");
        }
        double lowWavelen = old / low;
        double highWavelen = old / high;
        double[] out = new double[inv.length];
        for (int i = 0; i < inv.length; i++) {
            double wavelen = 2 * Math.PI / inv[i];
            double scaled = wavelen > lowWavelen ? inv[i] / factor : inv[i];
            boolean medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
            if (medium) {
                double smooth = (old / wavelen - low) / (high - low);
                scaled = (1 - smooth) * scaled / factor + smooth * scaled;
            }
            out[i] = scaled;
        }
        return new RotaryEmbedding("llama3", theta, dim, out, 1.0, maxPositions);
    }

    private static RotaryEmbedding yarn(JsonNode s, double theta, int dim, int maxPositions, String where) {
        double factor = number(s, "factor", where);
        int original = maxPositions;
        if (s.hasNonNull("original_max_position_embeddings")) {
            // As transformers: the ratio of the two contexts is the factor then.
            original = (int) number(s, "original_max_position_embeddings", where);
            factor = (double) maxPositions / original;
        }
        Double attention = s.hasNonNull("attention_factor") ? number(s, "attention_factor", where) : null;
        double mscale = s.path("mscale").asDouble(0);
        double mscaleAllDim = s.path("mscale_all_dim").asDouble(0);
        if (attention == null) {
            attention = mscale != 0 && mscaleAllDim != 0 ? yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim)
                    : yarnMscale(factor, 1);
        }
        double betaFast = s.hasNonNull("beta_fast") && s.get("beta_fast").asDouble() != 0 ? s.get("beta_fast").asDouble() : 32;
        double betaSlow = s.hasNonNull("beta_slow") && s.get("beta_slow").asDouble() != 0 ? s.get("beta_slow").asDouble() : 1;
        boolean truncate = s.path("truncate").asBoolean(true);
        double low = correctionDim(betaFast, dim, theta, original);
        double high = correctionDim(betaSlow, dim, theta, original);
        if (truncate) {
            low = Math.floor(low);
            high = Math.ceil(high);
        }
        low = Math.max(low, 0);
        high = Math.min(high, dim - 1);
        if (low == high) {
            high += 0.001; // as transformers: no division by zero in the ramp
        }
        double[] out = new double[dim / 2];
        for (int i = 0; i < out.length; i++) {
            double posFreq = Math.pow(theta, (2.0 * i) / dim);
            double extrapolation = 1.0 / posFreq;
            double interpolation = 1.0 / (factor * posFreq);
            double ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
            double extrapolationFactor = 1 - ramp;
            out[i] = interpolation * (1 - extrapolationFactor) + extrapolation * extrapolationFactor;
        }
        return new RotaryEmbedding("yarn", theta, dim, out, attention, maxPositions);
    }

    private static double yarnMscale(double scale, double mscale) {
        return scale <= 1 ? 1.0 : 0.1 * mscale * Math.log(scale) + 1.0;
    }

    private static double correctionDim(double rotations, int dim, double base, int maxPositions) {
        return (dim * Math.log(maxPositions / (rotations * 2 * Math.PI))) / (2 * Math.log(base));
    }

    private static RotaryEmbedding longrope(JsonNode s, double theta, int dim, int maxPositions, Integer originalTopLevel,
                                            String where) {
        double[] shortFactor = factors(s, "short_factor", dim, where);
        factors(s, "long_factor", dim, where);
        int original;
        double factor;
        if (originalTopLevel != null) {
            original = originalTopLevel;
            factor = (double) maxPositions / original;
        } else {
            original = s.hasNonNull("original_max_position_embeddings")
                    ? (int) number(s, "original_max_position_embeddings", where) : maxPositions;
            factor = s.hasNonNull("factor") ? number(s, "factor", where) : 1.0;
        }
        double attention = s.hasNonNull("attention_factor") ? number(s, "attention_factor", where)
                : factor <= 1.0 ? 1.0 : Math.sqrt(1 + Math.log(factor) / Math.log(original));
        double[] inv = new double[dim / 2];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = 1.0 / (shortFactor[i] * Math.pow(theta, (2.0 * i) / dim));
        }
        // Short factors hold up to the original context; transformers switches to the long ones past it for the
        // whole sequence, re-rotating what a cache holds, so the context stops at the original length.
        return new RotaryEmbedding("longrope", theta, dim, inv, attention, Math.min(original, maxPositions));
    }

    private static double[] factors(JsonNode s, String key, int dim, String where) {
        JsonNode f = s.get(key);
        if (f == null || !f.isArray() || f.size() != dim / 2) {
            throw new IllegalArgumentException(where + ": rope_scaling." + key + " must be a list of " + dim / 2
                    + " numbers (one per rotated pair)");
        }
        double[] out = new double[f.size()];
        for (int i = 0; i < out.length; i++) {
            if (!f.get(i).isNumber() || !(f.get(i).asDouble() > 0)) {
                throw new IllegalArgumentException(where + ": rope_scaling." + key + "[" + i + "] must be a number > 0");
            }
            out[i] = f.get(i).asDouble();
        }
        return out;
    }

    private static double number(JsonNode s, String key, String where) {
        JsonNode v = s.get(key);
        if (v == null || !v.isNumber() || !(v.asDouble() > 0) || !Double.isFinite(v.asDouble())) {
            throw new IllegalArgumentException(where + ": rope_scaling." + key + " must be a number > 0, got " + v);
        }
        return v.asDouble();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RotaryEmbedding r && type.equals(r.type) && theta == r.theta && rotaryDim == r.rotaryDim
                && Arrays.equals(inverseFrequency, r.inverseFrequency) && attentionFactor == r.attentionFactor
                && exactUpTo == r.exactUpTo;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(inverseFrequency) * 31 + type.hashCode();
    }

    @Override
    public String toString() {
        return type + " rope over " + rotaryDim + " dims (attention factor " + attentionFactor + ")";
    }
}
