package io.spinstream.cli;

import io.spinstream.demo.DemoRun;
import io.spinstream.demo.DemoSetup;
import io.spinstream.runtime.config.ConfigKey;
import io.spinstream.runtime.config.ServiceConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code spin demo}: SPIN rounds end to end on this machine — dev stack, the task's stream, the converged
 * base, the three services — then a table and a plot of the rounds.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, subcommands = {DemoCommand.Base.class, DemoCommand.Lion.class},
        description = "Runs real SPIN rounds end to end on this machine and shows whether the model got better.",
        footer = {"", "Service settings: the demo's defaults, then SPIN_* environment variables, then --set.",
                "Last line: base_em=X final_em=Y promoted=K/N"})
public final class DemoCommand implements Callable<Integer> {

    @Option(names = "--rounds", defaultValue = "3", description = "Rounds (candidates evaluated) (default: ${DEFAULT-VALUE}).")
    int rounds;

    @picocli.CommandLine.Mixin
    DemoOptions demo;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "A service setting, e.g. --set spin.trainer.lr=1e-4.")
    Map<String, String> set = new LinkedHashMap<>();

    @Option(names = "--timeout-min", defaultValue = "30", description = "Give up after this many minutes (default: ${DEFAULT-VALUE}).")
    int timeoutMinutes;

    @Override
    public Integer call() throws Exception {
        if (rounds < 1) {
            System.err.println("spin demo: --rounds must be at least 1, was " + rounds);
            return 2;
        }
        Map<String, String> service = DemoSetup.withGroupSamples(serviceSettings(DemoSetup.serviceDefaults(), set), System.out);
        DemoSetup setup = demo.setup();
        String unfit = setup.unfitObjective(service);
        if (unfit != null) {
            System.err.println("spin demo: " + unfit);
            return 2;
        }
        DemoRun.Outcome outcome = new DemoRun(new DemoRun.Settings(rounds, setup, service,
                demo.root(), Duration.ofMinutes(timeoutMinutes)), System.out).run();
        System.out.println(outcome.lastLine());
        return 0;
    }

    /** The project folder ./spin runs from (spin.home), else the working directory. */
    static Path projectDir() {
        return Path.of(System.getProperty("spin.home", "."));
    }

    /** Defaults, then the environment's SPIN_* keys, then the flags; unknown keys named with what is known. */
    static Map<String, String> serviceSettings(Map<String, String> defaults, Map<String, String> flags) {
        Map<String, String> out = new LinkedHashMap<>(defaults);
        for (ConfigKey<?> key : DemoRun.serviceKeys()) {
            String v = System.getenv(key.envName());
            if (v != null) {
                out.put(key.name(), v);
            }
        }
        for (Map.Entry<String, String> e : flags.entrySet()) {
            boolean kafkaClient = e.getKey().startsWith(ServiceConfig.KAFKA_PASSTHROUGH)
                    && e.getKey().length() > ServiceConfig.KAFKA_PASSTHROUGH.length();
            if (!kafkaClient && DemoRun.serviceKeys().stream().noneMatch(k -> k.name().equals(e.getKey()))) {
                throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(new DemoCommand()),
                        "--set " + e.getKey() + ": not a service setting; expected " + ServiceConfig.KAFKA_PASSTHROUGH
                                + "* (a Kafka client setting) or one of "
                                + DemoRun.serviceKeys().stream().map(ConfigKey::name).distinct().sorted().toList());
            }
            out.put(e.getKey(), e.getValue());
        }
        return out;
    }

    @Command(name = "lion", mixinStandardHelpOptions = true,
            description = "Lion's adversarial distillation on the demo's task: a larger teacher behind spin serve, the demo base as"
                    + " student, the verifier as referee; then uniform imitation with as many teacher answers.",
            footer = {"", "Last line: lion_em=X uniform_em=Y teacher_calls=N (test split exact match of each final student)"})
    static final class Lion implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        DemoOptions demo;

        @Option(names = "--rounds", defaultValue = "3", description = "Rounds of each run (default: ${DEFAULT-VALUE}).")
        int rounds;

        @Option(names = "--seeds", defaultValue = "2000", description = "Prompts in the pools at the start (default: ${DEFAULT-VALUE}).")
        int seeds;

        @Option(names = "--set", paramLabel = "KEY=VALUE", description = "A service setting, e.g. --set spin.trainer.lr=1e-3.")
        Map<String, String> set = new LinkedHashMap<>();

        @Option(names = "--timeout-min", defaultValue = "20", description = "Give up on a run after this many minutes (default: ${DEFAULT-VALUE}).")
        int timeoutMinutes;

        @Override
        public Integer call() throws Exception {
            if (rounds < 1 || seeds < 1) {
                System.err.println("spin demo lion: --rounds and --seeds must be at least 1");
                return 2;
            }
            DemoSetup student = demo.setup();
            var outcome = new io.spinstream.demo.DemoLion(new io.spinstream.demo.DemoLion.Settings(rounds, seeds, student,
                    io.spinstream.demo.DemoLion.teacherOf(student), serviceSettings(io.spinstream.demo.DemoLion.serviceDefaults(), set),
                    demo.root(), Duration.ofMinutes(timeoutMinutes)), System.out).run();
            System.out.println(outcome.lastLine());
            return 0;
        }
    }

    @Command(name = "base", mixinStandardHelpOptions = true,
            description = "Only makes (or finds) the demo's base: SFT to convergence, with its exact match on training, validation and held-out prompts.")
    static final class Base implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        DemoOptions demo;

        @Override
        public Integer call() {
            var base = demo.setup().base().ensure(demo.root().resolve("base"), System.out::println);
            System.out.println("base: " + base.directory().toAbsolutePath() + " " + base.metadata().metrics());
            return 0;
        }
    }
}
