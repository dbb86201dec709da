package io.spinstream.cli;

import io.spinstream.cli.bench.ModelBenchmark;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code spin bench ...}: measurements, never tests. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks.",
        subcommands = {BenchCommand.Model.class})
public final class BenchCommand implements Runnable {

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    @Command(name = "model", mixinStandardHelpOptions = true,
            description = "Training and generation tokens/s of the DJL model against PyTorch eager (Debian python3-torch).")
    static final class Model implements Callable<Integer> {
        @Option(names = "--threads", defaultValue = "2", description = "Threads on each side (default: ${DEFAULT-VALUE}).")
        int threads;

        @Option(names = "--rounds", defaultValue = "5", description = "Alternated rounds (default: ${DEFAULT-VALUE}).")
        int rounds;

        @Option(names = "--steps", defaultValue = "3", description = "Training steps per round (default: ${DEFAULT-VALUE}).")
        int steps;

        @Option(names = "--only-first", description = "Only the first configuration (hidden 256).")
        boolean onlyFirst;

        @Option(names = "--plot", defaultValue = "target/bench/model.png", description = "PNG of the results (default: ${DEFAULT-VALUE}).")
        Path plot;

        @Override
        public Integer call() throws Exception {
            String missing = io.spinstream.cli.bench.TorchReferenceCheck.missing();
            if (missing != null) {
                System.err.println("spin bench model: the PyTorch reference cannot run: " + missing);
                return 2;
            }
            List<ModelBenchmark.Setup> setups = ModelBenchmark.defaultSetups();
            if (onlyFirst) {
                setups = setups.subList(0, 1);
            }
            new ModelBenchmark(threads, rounds, steps, System.out).run(setups, plot);
            return 0;
        }
    }
}
