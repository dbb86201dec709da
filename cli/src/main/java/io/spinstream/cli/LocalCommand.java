package io.spinstream.cli;

import io.spinstream.devstack.DevStack;
import io.spinstream.schemas.AvroSerdes;
import io.spinstream.schemas.SchemaRegistrar;
import io.spinstream.schemas.TopicProvisioner;
import io.spinstream.schemas.Topics;
import io.spinstream.runtime.config.CommonKeys;
import io.spinstream.runtime.kafka.KafkaSettings;
import org.apache.kafka.clients.admin.Admin;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code spin local}: a real broker and schema registry on this machine with every topic of the
 * catalogue, until Ctrl-C or SIGTERM. Both keep their data under {@code --data}: started again, the
 * stack has its topics, records, offsets and schemas, on the same ports while they are free.
 */
@Command(name = "local", mixinStandardHelpOptions = true,
        description = "Runs a Kafka broker and a schema registry on this machine with the topics, until Ctrl-C.",
        footer = {"", "Prints bootstrap=HOST:PORT and registry=URL on lines of their own once everything is up."})
public final class LocalCommand implements Callable<Integer> {

    @Option(names = "--prefix", defaultValue = "spin", description = "Topic prefix (default: ${DEFAULT-VALUE}).")
    String prefix;

    @Option(names = "--write-config", paramLabel = "FILE",
            description = "Also write the connection settings as a properties file that services read (SPIN_CONFIG_FILE).")
    Path writeConfig;

    @picocli.CommandLine.Mixin
    DataOption data;

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        DevStack stack = DevStack.start(data.prepare(DemoCommand.projectDir().resolve("target/local"), "spin local"));
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            System.err.println("stopping the local stack");
            stack.close();
            stopped.countDown();
        }, "spin-local-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);

        Topics topics = new Topics(prefix, Topics.Layout.LOCAL, new AvroSerdes(stack.registryUrl()));
        KafkaSettings kafka = KafkaSettings.of(stack.bootstrapServers());
        try (Admin admin = Admin.create(kafka.admin())) {
            new TopicProvisioner(admin, new SchemaRegistrar(stack.registryUrl())).ensure(topics.fixed());
        }
        if (writeConfig != null) {
            writeConfig(writeConfig, stack);
        }
        out.println("bootstrap=" + stack.bootstrapServers());
        out.println("registry=" + stack.registryUrl());
        out.flush();
        System.err.printf("local stack up in %.1f s (topics: %s); Ctrl-C stops it%n",
                stack.startupTime().toMillis() / 1000.0, topics.fixed());
        stopped.await();
        return 0;
    }

    private static void writeConfig(Path file, DevStack stack) throws IOException {
        List<String> lines = List.of(
                "# written by spin local; the same ports are used again while --data is kept and they are free",
                CommonKeys.BOOTSTRAP_SERVERS.name() + "=" + stack.bootstrapServers(),
                CommonKeys.REGISTRY_URL.name() + "=" + stack.registryUrl());
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.write(file, lines);
    }
}
