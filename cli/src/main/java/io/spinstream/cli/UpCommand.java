package io.spinstream.cli;

import io.spinstream.demo.DemoBase;
import io.spinstream.demo.DemoRun;
import io.spinstream.demo.DemoSetup;
import io.spinstream.demo.InProcessServices;
import io.spinstream.devstack.DevStack;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code spin up}: the dev stack and one instance of each service, until Ctrl-C, with the demo base as
 * round-0 opponent, so that streams can be added and watched with the other commands.
 */
@Command(name = "up", mixinStandardHelpOptions = true,
        description = "The dev stack plus one generator, trainer and evaluator, until Ctrl-C.",
        footer = {"", "Prints bootstrap= and registry= lines as spin local does. Then, in another terminal:",
                "  ./spin prompts add --stream extra --file examples/arith-extra.jsonl --bootstrap ... --registry ...",
                "  ./spin lag --watch ...    ./spin checkpoints --follow ...    ./spin status ..."})
public final class UpCommand implements Callable<Integer> {

    @Option(names = "--no-demo-stream", description = "Do not publish the demo task's stream; only streams you add are answered.")
    boolean noDemoStream;

    @picocli.CommandLine.Mixin
    DemoOptions demo;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "A service setting, e.g. --set spin.trainer.lr=1e-4.")
    Map<String, String> set = new LinkedHashMap<>();

    @Override
    public Integer call() throws Exception {
        Path root = demo.root();
        Map<String, String> service = DemoCommand.serviceSettings(DemoSetup.serviceDefaults(), set);
        DemoSetup setup = demo.setup();
        DemoBase.Base base = setup.base().ensure(root.resolve("base"), System.err::println);
        Path runDir = root.resolve("up").resolve(LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        DevStack stack = DevStack.start();
        InProcessServices services = InProcessServices.start(DemoRun.connected(setup.withSplit(service), stack, runDir,
                service.getOrDefault("spin.run.id", "spin")), context -> {
            if (!noDemoStream) {
                setup.publish(context, System.err);
            }
        });
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("stopping the services and the local stack");
            services.close();
            stack.close();
            stopped.countDown();
        }, "spin-up-shutdown"));
        services.promote(base);
        System.out.println("bootstrap=" + stack.bootstrapServers());
        System.out.println("registry=" + stack.registryUrl());
        System.out.flush();
        System.err.printf("services up: run %s, opponent %s (round 0), checkpoints in %s; Ctrl-C stops everything%n",
                services.runId(), base.metadata().id(), runDir.resolve("store"));
        while (!stopped.await(5, java.util.concurrent.TimeUnit.SECONDS)) {
            try {
                services.checkHealthy();
            } catch (IllegalStateException e) {
                System.err.println("spin up: " + e.getMessage());
                return 1;
            }
        }
        return 0;
    }
}
