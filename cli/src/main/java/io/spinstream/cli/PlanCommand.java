package io.spinstream.cli;

import ai.djl.ndarray.types.DataType;
import io.spinstream.cli.bench.ScaleBenchmark;
import io.spinstream.cli.plan.MeasuredStep;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.Precision;
import io.spinstream.model.lora.LoraConfig;
import io.spinstream.model.plan.MemoryPlan;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import io.spinstream.model.plan.MachineMemory;

/** {@code spin plan}: the memory a training step needs, by part, before a model is loaded. */
@Command(name = "plan", mixinStandardHelpOptions = true,
        description = {"The peak memory of one training step (batch sequences of seq tokens), by part, and whether it fits.",
                "Reads only the model's config.json. --measure runs the step here (CPU) and prints the measured peak beside it.",
                "Last line: plan_gib=X memory_gib=Y fits=true|false [measured_gib=Z error_pct=E]"})
public final class PlanCommand implements Callable<Integer> {

    static final class Source {
        @Option(names = "--model", description = "A model folder (its config.json is read).")
        Path model;

        @Option(names = "--shape", description = "A published model's shape: qwen2.5-0.5b, qwen2.5-1.5b, qwen3-0.6b, "
                + "llama3.2-1b, gemma3-1b, llama3.1-8b.")
        String shape;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--seq", required = true, description = "Tokens a sequence (prompt and answer).")
    int seq;

    @Option(names = "--batch", defaultValue = "4", description = "Sequences a micro-batch: 2 per SPIN pair (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lora", defaultValue = "16", description = "LoRA rank; 0 for full fine-tuning (default: ${DEFAULT-VALUE}).")
    int lora;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu or cuda (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--dtype", description = "The base weights' type under LoRA: float16 (default) or float32; full fine-tuning trains float32.")
    String dtype;

    @Option(names = "--compute", description = "The type passes compute in (default: float32 on cpu, float16 on cuda).")
    String compute;

    @Option(names = "--memory", description = "GiB the step may use (default: this machine's memory on cpu, 80 on cuda).")
    Double memoryGib;

    @Option(names = "--attention-block", defaultValue = "512", description = "spin.model.attention.block (default: ${DEFAULT-VALUE}).")
    int attentionBlock;

    @Option(names = "--no-checkpointing", description = "spin.trainer.activation.checkpointing=false.")
    boolean noCheckpointing;

    @Option(names = "--reference", description = "A frozen copy of the weights too (SPIN with the previous round's pairs).")
    boolean reference;

    @Option(names = "--measure", description = "Run the step here with random weights and print its measured peak.")
    boolean measure;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        try {
            return plan();
        } catch (IllegalArgumentException e) { // a bad flag or config.json: its message names it
            throw new ParameterException(spec.commandLine(), "spin plan: " + e.getMessage());
        }
    }

    private int plan() throws IOException {
        LlamaConfig config = source.model != null ? modelConfig(source.model) : ScaleBenchmark.Shape.named(source.shape).config();
        MemoryPlan.Device dev = switch (device.toLowerCase(Locale.ROOT)) {
            case "cpu" -> MemoryPlan.Device.CPU;
            case "cuda" -> MemoryPlan.Device.CUDA;
            default -> throw new IllegalArgumentException("--device '" + device + "': expected cpu or cuda");
        };
        DataType weights = lora == 0 ? DataType.FLOAT32 : Precision.parse(dtype == null ? "float16" : dtype);
        if (lora == 0 && dtype != null && Precision.parse(dtype) != DataType.FLOAT32) {
            throw new IllegalArgumentException("--dtype " + dtype + ": full fine-tuning (--lora 0) trains float32 weights");
        }
        DataType computeType = compute != null ? Precision.parse(compute)
                : dev == MemoryPlan.Device.CUDA ? DataType.FLOAT16 : DataType.FLOAT32;
        MemoryPlan.Setup setup = new MemoryPlan.Setup(config, seq, batch, lora, LoraConfig.PROJECTIONS, dev, weights, computeType,
                !noCheckpointing, attentionBlock, LlamaModel.DEFAULT_ROW_BLOCK_TOKENS, reference);
        MemoryPlan plan = MemoryPlan.of(setup);
        double memory = memoryGib != null ? memoryGib : dev == MemoryPlan.Device.CUDA ? 80 : machineMemoryGib();

        String name = source.model != null ? source.model.toString() : ScaleBenchmark.Shape.named(source.shape).name();
        System.out.printf("%s, %d × %d tokens, %s, %s weights computing in %s, on %s%s%n", name, batch, seq,
                lora > 0 ? "LoRA rank " + lora : "full fine-tuning", Precision.nameOf(weights), Precision.nameOf(computeType),
                dev.name().toLowerCase(Locale.ROOT), noCheckpointing ? ", no activation checkpointing" : "");
        System.out.println();
        System.out.println("| part | GiB | counted as |");
        System.out.println("|---|---:|---|");
        for (MemoryPlan.Part p : plan.held()) {
            System.out.printf(Locale.ROOT, "| %s | %.2f | %s |%n", p.name(), p.gib(), p.how());
        }
        for (MemoryPlan.Part p : plan.peakOf()) {
            boolean largest = p == plan.largestPeak();
            System.out.printf(Locale.ROOT, "| %s%s | %.2f | %s |%n", largest ? "peak: " : "(smaller) ", p.name(), p.gib(), p.how());
        }
        System.out.printf(Locale.ROOT, "| **peak** | **%.2f** | what is held + the largest of what comes and goes |%n", plan.peakGib());
        boolean fits = plan.peakGib() <= memory;
        System.out.println();
        System.out.printf(Locale.ROOT, "%s in %.1f GiB (%.1f GiB %s)%n", fits ? "fits" : "does NOT fit", memory,
                Math.abs(memory - plan.peakGib()), fits ? "to spare" : "short");
        String last = String.format(Locale.ROOT, "plan_gib=%.2f memory_gib=%.1f fits=%s", plan.peakGib(), memory, fits);
        if (measure) {
            if (!fits) {
                System.out.println("not measured: the plan says the step does not fit in this machine's memory");
            } else {
                String tunables = System.getenv().getOrDefault("GLIBC_TUNABLES", "");
                if (!tunables.contains("glibc.malloc.mmap_threshold")) {
                    // The plan assumes the allocator ./spin and the images set up; without it the heap fragments.
                    System.out.println("note: glibc's mmap threshold is not fixed (GLIBC_TUNABLES=" + tunables + "): the measured"
                            + " peak includes the heap's fragmentation, which ./spin and the images avoid");
                }
                MeasuredStep.Measurement m = new MeasuredStep(System.out).run(setup);
                double error = 100.0 * (plan.peakGib() - m.peakGib()) / m.peakGib();
                System.out.printf(Locale.ROOT, "measured: peak %.2f GiB (the runtime alone %.2f GiB; %.2f GiB resident when the"
                        + " step began), the step in %.0f s; the plan is %+.1f%% of it%n", m.peakGib(),
                        m.runtimeBytes() / (double) MemoryPlan.GIB, m.startBytes() / (double) MemoryPlan.GIB, m.seconds(), error);
                last += String.format(Locale.ROOT, " measured_gib=%.2f error_pct=%.1f", m.peakGib(), error);
            }
        }
        System.out.println(last);
        return fits ? 0 : 3;
    }

    /** The folder's config.json, validated as a load would. */
    private static LlamaConfig modelConfig(Path dir) throws IOException {
        Path json = dir.resolve("config.json");
        if (!Files.isRegularFile(json)) {
            throw new IllegalArgumentException("--model " + dir + ": no config.json there");
        }
        if (Files.size(json) > (1 << 20)) {
            throw new IllegalArgumentException("--model " + dir + ": config.json is over 1 MiB");
        }
        return LlamaConfig.fromJson(Files.readString(json));
    }

    private static double machineMemoryGib() {
        return MachineMemory.machine("MemTotal:").orElseThrow(() -> new IllegalArgumentException(
                "this system does not say its memory (/proc/meminfo): give --memory GiB")) / (double) MemoryPlan.GIB;
    }
}
