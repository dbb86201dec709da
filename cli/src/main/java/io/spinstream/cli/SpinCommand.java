package io.spinstream.cli;

import io.spinstream.runtime.LibraryLogging;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** The {@code spin} command line; {@code ./spin} at the repository root builds and runs it. */
@Command(name = "spin", mixinStandardHelpOptions = true, version = "spinstream 0.1.0",
        description = "Streaming self-play fine-tuning (SPIN) of language models on Apache Kafka.",
        footer = "--verbose anywhere on the line: Kafka's clients and the embedded broker log their warnings too (errors only otherwise).",
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

    /** The loggers of Kafka's clients and of the embedded broker, quiet on the console unless --verbose. */
    static final List<String> KAFKA_LOGGERS = List.of("org.apache.kafka", "kafka");

    public static void main(String[] args) {
        // Before the first logger exists: slf4j-simple reads its levels once, system properties over its file.
        List<String> rest = new ArrayList<>(Arrays.asList(args));
        if (rest.remove("--verbose")) {
            KAFKA_LOGGERS.forEach(logger -> System.setProperty("org.slf4j.simpleLogger.log." + logger, "warn"));
        }
        LibraryLogging.quiet();
        System.exit(new CommandLine(new SpinCommand()).execute(rest.toArray(String[]::new)));
    }
}
