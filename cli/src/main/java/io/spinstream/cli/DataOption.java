package io.spinstream.cli;

import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** {@code --data DIR} and {@code --fresh}: where a local stack keeps what must survive a crash. */
final class DataOption {
    @Option(names = "--data", paramLabel = "DIR", description = "Where everything is kept (the broker's log, the registry's"
            + " schemas, and for spin up the checkpoints and the joiner's state); started again on it, even after a"
            + " kill -9, nothing is lost. Default: under target/ in the project.")
    Path data;

    @Option(names = "--fresh", description = "Delete the --data folder first: start over.")
    boolean fresh;

    /** The folder to use ({@code fallback} without --data), emptied first with --fresh. */
    Path prepare(Path fallback, String command) throws IOException {
        Path dir = (data != null ? data : fallback).toAbsolutePath().normalize();
        if (fresh && Files.exists(dir)) {
            try (Stream<Path> paths = Files.walk(dir)) {
                for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
            System.err.println(command + ": --fresh: deleted " + dir);
        }
        return Files.createDirectories(dir);
    }
}
