package io.spinstream.cli;

import io.spinstream.cli.config.ConfigReference;
import io.spinstream.runtime.config.ServiceConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code spin config docs|check}: the configuration reference generated from the keys, and a file checked against them. */
@Command(name = "config", mixinStandardHelpOptions = true, subcommands = {ConfigCommand.Docs.class, ConfigCommand.Check.class},
        description = "The configuration reference, generated from the keys the services declare, and checks against it.")
public final class ConfigCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        System.out.println("spin config docs | spin config check FILE: see spin config --help");
        return 2;
    }

    @Command(name = "docs", mixinStandardHelpOptions = true,
            description = "Writes the configuration reference (docs/configuration.md) from every declared key.",
            footer = "Last line: keys=N written=PATH")
    static final class Docs implements Callable<Integer> {
        @Option(names = "--out", description = "Where to write it (default: ${DEFAULT-VALUE} of the checkout).",
                defaultValue = ConfigReference.DOCS_PATH)
        Path out;

        @Override
        public Integer call() throws Exception {
            Path file = out.isAbsolute() ? out : Path.of(System.getProperty("spin.home", ".")).resolve(out);
            String page = ConfigReference.ofServices().markdown();
            Files.createDirectories(file.toAbsolutePath().getParent());
            Files.writeString(file, page, StandardCharsets.UTF_8);
            long keys = page.lines().filter(l -> l.startsWith("| `spin.")).count();
            System.out.println("keys=" + keys + " written=" + file);
            return 0;
        }
    }

    @Command(name = "check", mixinStandardHelpOptions = true,
            description = "Checks a properties file (or, without one, the environment) against the keys: every problem "
                    + "with its key. Exit 1 when there is one.",
            footer = "Last line: problems=N")
    static final class Check implements Callable<Integer> {
        @Parameters(arity = "0..1", paramLabel = "FILE", description = "A properties file (spin.* keys).")
        Path file;

        @Option(names = "--service", paramLabel = "NAME",
                description = "Check as this service starts: its required keys too (generator, trainer, evaluator, lion, init).")
        String service;

        @Override
        public Integer call() {
            ConfigReference reference = ConfigReference.ofServices();
            // Without a file, the one the services would read (SPIN_CONFIG_FILE), if any, and the environment.
            Optional<Path> source = Optional.ofNullable(file).or(() -> Optional.ofNullable(System.getenv(ServiceConfig.CONFIG_FILE_ENV))
                    .filter(s -> !s.isBlank()).map(Path::of));
            List<String> problems = reference.check(System.getenv(), source, Optional.ofNullable(service));
            problems.forEach(p -> System.out.println("  - " + p));
            System.out.println("problems=" + problems.size());
            return problems.isEmpty() ? 0 : 1;
        }
    }
}
