package io.spinstream.model.objective;

import ai.djl.ndarray.NDArray;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/** The objectives, on one piece of shared arithmetic. */
public final class Objectives {
    private Objectives() {
    }

    /** ℓ(t) = log(1 + e^(−t)), computed stably. */
    static NDArray logistic(NDArray t) {
        // max(−t, 0) + log(1 + e^(−|t|))
        return t.neg().maximum(0).add(t.abs().neg().exp().add(1).log());
    }

    /** ℓ(t) = max(0, 1 − t). */
    static NDArray hinge(NDArray t) {
        return t.neg().add(1).maximum(0);
    }

    /** Mean NLL per token of the preferred responses, the SFT loss. */
    static NDArray nll(PairLogProbs p) {
        return p.chosen().mean().neg().mean();
    }

    static NDArray withNll(NDArray loss, PairLogProbs p, double alpha) {
        return alpha == 0 ? loss : loss.add(nll(p).mul(alpha));
    }

    /**
     * The implicit rewards scale·(log pθ − log p_ref) of the chosen and rejected responses, and the
     * logistic loss on their margin: SPIN's and DPO's shared form.
     */
    static LossResult logisticOnReferenceMargin(PairLogProbs p, double scale, double alpha) {
        return onReferenceMargin(p, scale, alpha, Objectives::logistic);
    }

    static LossResult onReferenceMargin(PairLogProbs p, double scale, double alpha,
                                        java.util.function.UnaryOperator<NDArray> loss) {
        NDArray chosen = p.chosen().sum().sub(p.refChosen()).mul(scale);
        NDArray rejected = p.rejected().sum().sub(p.refRejected()).mul(scale);
        NDArray t = maskIdentical(chosen.sub(rejected), p);
        return new LossResult(withNll(loss.apply(t).mean(), p, alpha), chosen, rejected);
    }

    /** Pairs with y' = y contribute a constant (zero gradient): their margin is multiplied by 0. */
    static NDArray maskIdentical(NDArray margin, PairLogProbs p) {
        return margin.mul(p.identical().neg().add(1));
    }

    /**
     * Parses {@code name[:key=value,...]}, e.g. {@code spin:lambda=1,alpha=1}, {@code spin-hinge:lambda=0.1},
     * {@code dpo:beta=0.1}, {@code simpo:beta=2,gamma=1}, {@code sft}.
     */
    /** {@code raft[:top=1,min.reward=R]} or {@code rrhf[:alpha=1]}. */
    static GroupObjective parseGroup(String spec) {
        String[] parts = spec.trim().split(":", 2);
        String name = parts[0].toLowerCase(Locale.ROOT);
        Map<String, Double> args = arguments(spec, parts);
        GroupObjective o = switch (name) {
            case "raft" -> {
                double top = args.getOrDefault("top", 1.0);
                if (top != Math.rint(top)) {
                    throw new IllegalArgumentException("objective " + spec + ": top must be a whole number, got " + top);
                }
                yield new Raft((int) top, args.getOrDefault("min.reward", Double.NEGATIVE_INFINITY));
            }
            case "rrhf" -> new Rrhf(args.getOrDefault("alpha", 1.0));
            default -> throw new IllegalArgumentException("unknown group objective '" + parts[0] + "': expected one of "
                    + GroupObjective.NAMES);
        };
        args.keySet().removeAll(java.util.Set.of("top", "min.reward", "alpha"));
        if (!args.isEmpty()) {
            throw new IllegalArgumentException("objective " + spec + ": unknown parameter(s) " + args.keySet());
        }
        return o;
    }

    private static Map<String, Double> arguments(String spec, String[] parts) {
        Map<String, Double> args = new HashMap<>();
        if (parts.length == 2 && !parts[1].isBlank()) {
            for (String kv : parts[1].split(",")) {
                String[] pair = kv.split("=", 2);
                if (pair.length != 2) {
                    throw new IllegalArgumentException("objective " + spec + ": expected key=value, got '" + kv + "'");
                }
                try {
                    args.put(pair[0].trim().toLowerCase(Locale.ROOT), Double.parseDouble(pair[1].trim()));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("objective " + spec + ": " + pair[0] + " must be a number, got '" + pair[1] + "'");
                }
            }
        }
        return args;
    }

    static Objective parse(String spec) {
        String[] parts = spec.trim().split(":", 2);
        String name = parts[0].toLowerCase(Locale.ROOT);
        Map<String, Double> args = arguments(spec, parts);
        double alpha = args.getOrDefault("alpha", 0.0);
        Objective o = switch (name) {
            case "sft" -> new Sft();
            case "spin" -> new Spin(args.getOrDefault("lambda", 0.1), Spin.Loss.LOGISTIC, alpha);
            case "spin-hinge" -> new Spin(args.getOrDefault("lambda", 0.1), Spin.Loss.HINGE, alpha);
            case "dpo" -> new Dpo(args.getOrDefault("beta", 0.1), alpha);
            case "simpo" -> new SimPo(args.getOrDefault("beta", 2.0), args.getOrDefault("gamma", 1.0), alpha);
            default -> throw new IllegalArgumentException("unknown objective '" + parts[0]
                    + "': expected one of sft, spin, spin-hinge, dpo, simpo");
        };
        args.keySet().removeAll(java.util.Set.of("alpha", "lambda", "beta", "gamma"));
        if (!args.isEmpty()) {
            throw new IllegalArgumentException("objective " + spec + ": unknown parameter(s) " + args.keySet());
        }
        return o;
    }
}
