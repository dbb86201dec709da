package io.spinstream.cli;

import io.spinstream.demo.DemoBase;
import io.spinstream.demo.DemoRun;
import io.spinstream.demo.DemoSetup;
import io.spinstream.demo.InProcessServices;
import io.spinstream.demo.MetricsServers;
import io.spinstream.cli.ops.PromptFile;
import io.spinstream.devstack.DevStack;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.kafka.PromptPublisher;
import io.spinstream.runtime.kafka.TopicReader;
import io.spinstream.runtime.opponent.RoundZero;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
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
        footer = {"", "Prints bootstrap= and registry= lines as spin local does, and metrics.<service>=PORT (each service's /metrics",
                "and /health/*; --set spin.metrics.port=P puts them on P, P+1, P+2). Then, in another terminal:",
                "  ./spin prompts add --stream extra --file examples/arith-extra.jsonl --bootstrap ... --registry ...",
                "  ./spin lag --watch ...    ./spin checkpoints --follow ...    ./spin status ..."})
public final class UpCommand implements Callable<Integer> {

    @Option(names = "--no-demo-stream", description = "Do not publish the demo task's stream; only streams you add are answered.")
    boolean noDemoStream;

    @Option(names = "--model", paramLabel = "DIR",
            description = "Your own Hugging Face model folder as round 0's opponent (as spin init), instead of the demo base.")
    Path model;

    @Option(names = "--sft", paramLabel = "FILE",
            description = "With --model: SFT examples (JSON Lines, as spin prompts add) published on the stream 'sft'.")
    Path sft;

    @picocli.CommandLine.Mixin
    DemoOptions demo;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "A service setting, e.g. --set spin.trainer.lr=1e-4.")
    Map<String, String> set = new LinkedHashMap<>();

    @picocli.CommandLine.Mixin
    DataOption data;

    @Override
    public Integer call() throws Exception {
        if (model != null) {
            return ownModel();
        }
        if (sft != null) {
            System.err.println("spin up: --sft goes with --model (the demo publishes its own task)");
            return 2;
        }
        Path root = demo.root();
        Map<String, String> service = DemoCommand.serviceSettings(DemoSetup.serviceDefaults(), set);
        DemoSetup setup = demo.setup();
        DemoBase.Base base = setup.base().ensure(root.resolve("base"), System.err::println);
        Path runDir = runDir(root);
        DevStack stack = DevStack.start(runDir.resolve("stack"));
        String runId = service.getOrDefault("spin.run.id", "spin");
        boolean[] resumed = new boolean[1];
        InProcessServices services = InProcessServices.start(DemoRun.connected(setup.withSplit(service), stack, runDir,
                runId), context -> {
            resumed[0] = new RoundZero(context).opponentOf(runId).isPresent();
            if (!noDemoStream && !published(context, setup.stream())) {
                setup.publish(context, System.err);
            }
        });
        if (!resumed[0]) {
            services.promote(base);
        }
        return serve(stack, services, base.metadata().id(), runDir, resumed[0]);
    }

    /** The dev stack and the services on the user's model, with the services' own defaults (not the demo's). */
    private Integer ownModel() throws Exception {
        PromptFile file = null;
        if (sft != null) {
            file = PromptFile.read(sft, "sft");
            if (!file.problems().isEmpty()) {
                System.err.println("spin up: " + sft + " has " + file.problems().size() + " bad line(s):");
                file.problems().forEach(p -> System.err.println("  " + p));
                return 1;
            }
            if (file.duplicates() > 0) {
                System.out.println(sft + ": " + file.duplicatesLine());
            }
        }
        Map<String, String> service = DemoCommand.serviceSettings(Map.of(), set);
        String runId = service.getOrDefault("spin.run.id", "spin");
        Path runDir = runDir(demo.root());
        DevStack stack = DevStack.start(runDir.resolve("stack"));
        PromptFile prompts = file;
        String[] base = new String[1];
        boolean[] resumed = new boolean[1];
        InProcessServices services;
        try {
            services = InProcessServices.start(DemoRun.connected(service, stack, runDir, runId), context -> {
                try {
                    var current = new RoundZero(context).opponentOf(runId);
                    if (current.isPresent()) { // started again on its data: the run goes on where it was
                        resumed[0] = true;
                        base[0] = current.get().getCheckpointId();
                        return;
                    }
                    if (prompts != null && !published(context, "sft")) {
                        new PromptPublisher(context).publish("sft", prompts.prompts(), n -> {
                        });
                        System.err.printf("published %d prompts (%s) on %s%n", prompts.prompts().size(), prompts.format().key(),
                                context.topics().prompts("sft").name());
                    }
                    RoundZero.Outcome o = new RoundZero(context).establish(runId, runDir.resolve("store"), model, false, n -> {
                    });
                    base[0] = o.base().metadata().id();
                    System.err.println(o.message());
                } catch (Exception e) {
                    throw new IllegalStateException(e.getMessage(), e);
                }
            });
        } catch (IllegalStateException e) {
            stack.close();
            System.err.println("spin up: " + e.getMessage());
            return 1;
        }
        if (prompts == null) {
            System.err.println("no prompts yet: add your SFT data with ./spin prompts add --stream NAME --file F.jsonl");
        }
        return serve(stack, services, base[0], runDir, resumed[0]);
    }

    /** The --data folder (emptied first with --fresh). */
    private Path runDir(Path root) throws java.io.IOException {
        return data.prepare(root.resolve("up").resolve("data"), "spin up");
    }

    /** Whether the stream holds committed prompts already (published before a restart): never published twice. */
    private static boolean published(SpinContext context, String stream) {
        return !new TopicReader(context.kafka()).values(context.topics().prompts(stream)).isEmpty();
    }

    /** Prints the connection, then runs until Ctrl-C or a service fails. */
    private static Integer serve(DevStack stack, InProcessServices services, String opponent, Path runDir, boolean resumed)
            throws Exception {
        CountDownLatch stopped = new CountDownLatch(1);
        MetricsServers metrics = new MetricsServers(services.serveMetrics());
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("stopping the services and the local stack");
            metrics.close();
            services.close();
            stack.close();
            stopped.countDown();
        }, "spin-up-shutdown"));
        System.out.println("bootstrap=" + stack.bootstrapServers());
        System.out.println("registry=" + stack.registryUrl());
        for (int i = 0; i < InProcessServices.NAMES.size(); i++) {
            System.out.println("metrics." + InProcessServices.NAMES.get(i) + "=" + metrics.servers().get(i).port());
        }
        System.out.flush();
        System.err.printf("services up: run %s %s, checkpoints in %s, data kept in %s; Ctrl-C stops everything%n",
                services.runId(), resumed ? "resumed (its opponent and rounds kept)" : "started, opponent " + opponent + " (round 0)",
                runDir.resolve("store"), runDir);
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
