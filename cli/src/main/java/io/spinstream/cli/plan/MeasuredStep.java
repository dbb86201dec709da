package io.spinstream.cli.plan;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.Precision;
import io.spinstream.model.TokenBatch;
import io.spinstream.model.lora.LoraAdapter;
import io.spinstream.model.lora.LoraConfig;
import io.spinstream.model.objective.Spin;
import io.spinstream.model.plan.MemoryPlan;
import io.spinstream.model.train.AdamW;
import io.spinstream.model.train.LearningRateSchedule;
import io.spinstream.model.train.PreferenceBatch;
import io.spinstream.model.train.StepResult;
import io.spinstream.model.train.TrainStep;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import io.spinstream.model.plan.MachineMemory;

/**
 * One training step of a plan's setup on this machine, with random weights in the model's shape, and the peak
 * resident memory it reached: what {@code spin plan --measure} compares the plan with. The kernel's peak (VmHWM) is
 * reset once the model is built, so the figure is the step's, on top of everything resident before it.
 */
public final class MeasuredStep {
    private final PrintStream out;

    public MeasuredStep(PrintStream out) {
        this.out = out;
    }

    /** The result: the step's peak, what was resident before the model was made, the step's time. */
    public record Measurement(long peakBytes, long runtimeBytes, long startBytes, double seconds, double loss) {
        public double peakGib() {
            return peakBytes / (double) MemoryPlan.GIB;
        }
    }

    public Measurement run(MemoryPlan.Setup s) {
        if (s.device() != MemoryPlan.Device.CPU) {
            throw new IllegalArgumentException("--measure runs on this machine's CPU: use --device cpu");
        }
        LlamaConfig config = s.model();
        try (NDManager manager = NDManager.newBaseManager()) {
            manager.zeros(new Shape(1)).close(); // libtorch loaded: what the runtime holds before any weight
            long runtime = resident("VmRSS:");
            Precision precision = new Precision(s.weights(), s.compute());
            LlamaModel model = LlamaModel.adopt(config, manager, randomWeights(config, manager, s.weights()), precision);
            LoraAdapter adapter = null;
            if (s.loraRank() > 0) {
                adapter = LoraAdapter.init(config, new LoraConfig(s.loraRank(), 2.0 * s.loraRank(), 0, s.loraTargets(), false),
                        model.manager(), 1);
                model.attach(adapter);
            }
            model.activationCheckpointing(s.checkpointing());
            model.attentionBlock(s.attentionBlock());
            model.rowBlockTokens(s.rowBlockTokens());
            PreferenceBatch pairs = pairs(config, s.seq(), s.batch());
            long start = resident("VmRSS:"); // the model and what building it left resident
            MachineMemory.resetPeak();
            out.printf("measuring one step: %d sequences of %d tokens (%s) ...%n", s.batch(), s.seq(),
                    s.loraRank() > 0 ? "LoRA rank " + s.loraRank() : "full fine-tuning");
            long t = System.nanoTime();
            StepResult r;
            try (TrainStep step = new TrainStep(model, new Spin(0.1, Spin.Loss.LOGISTIC, 0), new AdamW(0.9, 0.999, 1e-8, 0),
                    LearningRateSchedule.constant(1e-5), 0)) {
                r = step.step(List.of(pairs));
            }
            double seconds = (System.nanoTime() - t) / 1e9;
            long peak = resident("VmHWM:");
            if (adapter != null) {
                adapter.close();
            }
            model.close();
            return new Measurement(peak, runtime, start, seconds, r.loss());
        }
    }

    /** N(0, 0.02) weights made on the native side one tensor at a time, each converted at once: no wide copy of all. */
    private static Map<String, NDArray> randomWeights(LlamaConfig config, NDManager manager, DataType type) {
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        for (String name : config.parameterNames()) {
            Shape shape = new Shape(config.shapeOf(name));
            NDArray t;
            if (name.endsWith("norm.weight")) {
                t = config.family().unitOffsetNorm() ? manager.zeros(shape) : manager.ones(shape);
            } else if (name.endsWith(".bias")) {
                t = manager.zeros(shape);
            } else {
                t = manager.randomNormal(0f, 0.02f, shape, DataType.FLOAT32);
            }
            if (type != DataType.FLOAT32) {
                NDArray converted = t.toType(type, false);
                t.close();
                t = converted;
            }
            tensors.put(name, t);
        }
        return tensors;
    }

    /** batch / 2 SPIN pairs (one sequence when batch is 1): a quarter prompt, the rest answer, random tokens. */
    private static PreferenceBatch pairs(LlamaConfig config, int seq, int batch) {
        Random random = new Random(2026);
        int promptLen = Math.max(1, seq / 4);
        List<TokenBatch.Example> chosen = new ArrayList<>();
        List<TokenBatch.Example> rejected = new ArrayList<>();
        for (int i = 0; i < Math.max(1, batch / 2); i++) {
            int[] prompt = random.ints(promptLen, 3, config.vocabSize()).toArray();
            chosen.add(new TokenBatch.Example(prompt, random.ints(seq - promptLen, 3, config.vocabSize()).toArray()));
            rejected.add(new TokenBatch.Example(prompt, random.ints(seq - promptLen, 3, config.vocabSize()).toArray()));
        }
        double[] ref = new double[chosen.size()];
        Arrays.fill(ref, -10.0 * seq);
        return new PreferenceBatch(chosen, rejected, ref, ref.clone());
    }

    /** A /proc/self/status figure in bytes: the measurement needs Linux's. */
    private static long resident(String key) {
        return MachineMemory.process(key).orElseThrow(() -> new IllegalStateException(
                "--measure reads the kernel's resident sizes (/proc/self/status " + key + "), which this system does not give"));
    }
}
