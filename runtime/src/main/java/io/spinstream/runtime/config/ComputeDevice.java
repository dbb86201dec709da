package io.spinstream.runtime.config;

import ai.djl.Device;
import ai.djl.engine.Engine;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where a service computes ({@code spin.device}): {@code auto} (the first GPU when the engine reports
 * one, else the CPU), {@code cpu}, {@code cuda} (the first GPU) or {@code cuda:N}. A GPU the engine does
 * not report is refused at start, naming the key: a build with the CPU libtorch reports none.
 */
public record ComputeDevice(String spec) {
    private static final Pattern FORM = Pattern.compile("auto|cpu|cuda(?::(\\d+))?");

    public static final ValueType<String> TYPE = ValueType.of("auto, cpu, cuda or cuda:N", s -> {
        if (!FORM.matcher(s).matches()) {
            throw new IllegalArgumentException(s);
        }
        return s;
    });

    public ComputeDevice {
        if (!FORM.matcher(spec).matches()) {
            throw new IllegalArgumentException("spin.device: expected auto, cpu, cuda or cuda:N, got '" + spec + "'");
        }
    }

    /** The device on an engine that reports {@code gpus} GPUs. */
    public Device resolve(int gpus) {
        if (spec.equals("cpu")) {
            return Device.cpu();
        }
        if (spec.equals("auto")) {
            return gpus > 0 ? Device.gpu(0) : Device.cpu();
        }
        Matcher m = FORM.matcher(spec);
        m.matches();
        int index = m.group(1) == null ? 0 : Integer.parseInt(m.group(1));
        if (index >= gpus) {
            throw new ConfigException("invalid configuration:\n  - spin.device (SPIN_DEVICE) is " + spec + ", but the engine reports "
                    + gpus + " GPU(s)" + (gpus == 0 ? " (" + GpuDiagnosis.probe().explain() + ")" : ""));
        }
        return Device.gpu(index);
    }

    /** The device on this machine's engine. */
    public Device resolve() {
        return resolve(Engine.getInstance().getGpuCount());
    }
}
