package io.spinstream.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code spin} command line; {@code ./spin} at the repository root builds and runs it. */
@Command(name = "spin", mixinStandardHelpOptions = true, version = "spinstream 0.1.0",
        description = "Streaming self-play fine-tuning (SPIN) of language models on Apache Kafka.",
        subcommands = {DemoCommand.class, UpCommand.class, LocalCommand.class, K8sCommand.class, RunCommand.class, InitCommand.class,
                PromptsCommand.class, LagCommand.class, ExportCommand.class,
                CheckpointsCommand.class, StatusCommand.class, BenchCommand.class, ServeCommand.class, PlanCommand.class, ConfigCommand.class,
                CommandLine.HelpCommand.class})
public final class SpinCommand implements Runnable {

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        io.spinstream.runtime.LibraryLogging.quiet();
        System.exit(new CommandLine(new SpinCommand()).execute(args));
    }
}
