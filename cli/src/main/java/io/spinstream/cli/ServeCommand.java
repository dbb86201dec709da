package io.spinstream.cli;

import ai.djl.ndarray.NDManager;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.spinstream.inference.LoadedModel;
import io.spinstream.model.Precision;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.config.RoundKeys;
import io.spinstream.runtime.health.MetricsServer;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.opponent.OpponentWatcher;
import io.spinstream.serve.ModelSlot;
import io.spinstream.serve.OpenAiServer;
import io.spinstream.serve.RequestBatcher;
import io.spinstream.serve.ServingLimits;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"An OpenAI-compatible endpoint (/v1/models, /v1/completions, /v1/chat/completions, streaming,"
                + " /metrics) for one checkpoint of the store, or for a run's opponent, followed as it is promoted."})
final class ServeCommand implements Callable<Integer> {

    @Option(names = "--checkpoint", paramLabel = "ID", description = "Serve this checkpoint of the store.")
    String checkpoint;

    @Option(names = "--run", paramLabel = "RUN_ID", description = "Serve this run's opponent (needs the broker and registry).")
    String run;

    @Option(names = "--store", paramLabel = "DIR", description = "The checkpoint store (else SPIN_CHECKPOINT_STORE).")
    Path store;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "8000", description = "Port (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--api-key-env", paramLabel = "NAME", description = "Require the key held in this environment variable as a bearer token.")
    String apiKeyEnv;

    @Option(names = "--template", defaultValue = "auto", description = "Chat layout: plain, chat, model or auto (default: ${DEFAULT-VALUE}).")
    String template;

    @Option(names = "--rows", defaultValue = "64", description = "Answers generated at once across clients (default: ${DEFAULT-VALUE}).")
    int rows;

    @Option(names = "--max-body", defaultValue = "4194304", paramLabel = "BYTES",
            description = "A request body over this many bytes is a 413 (default: ${DEFAULT-VALUE}).")
    long maxBody;

    @Option(names = "--max-n", defaultValue = "16", description = "Samples a prompt at most (default: ${DEFAULT-VALUE}).")
    int maxN;

    @Option(names = "--max-prompts", defaultValue = "64", description = "Prompts a completion request at most (default: ${DEFAULT-VALUE}).")
    int maxPrompts;

    @Option(names = "--max-request-tokens", defaultValue = "1048576",
            description = "prompts × n × (prompt + max_tokens) tokens a request at most (default: ${DEFAULT-VALUE}).")
    long maxRequestTokens;

    @Option(names = "--max-queued", defaultValue = "4096",
            description = "Answers waiting for the model across clients; beyond it a 429 (default: ${DEFAULT-VALUE}).")
    int maxQueued;

    @Option(names = "--allow-adapter-loading", description = "Serve /v1/load_lora_adapter and /v1/unload_lora_adapter (off by default).")
    boolean allowAdapterLoading;

    @Option(names = "--max-loras", defaultValue = "4",
            description = "Adapters held at once; the least recently used is unloaded (default: ${DEFAULT-VALUE}).")
    int maxLoras;

    @Mixin
    ClusterOptions cluster;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if ((checkpoint == null) == (run == null)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "spin serve: give --checkpoint ID or --run RUN_ID (one of them)");
        }
        if (rows < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--rows: expected a whole number >= 1, got " + rows);
        }
        PromptTemplate layout;
        try {
            layout = PromptTemplate.valueOf(template.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--template: expected plain, chat, model or auto, got '" + template + "'");
        }
        ServingLimits limits;
        try {
            limits = new ServingLimits(maxBody, maxN, maxPrompts, maxRequestTokens, maxQueued,
                    ServingLimits.DEFAULT.streamBufferEvents(), allowAdapterLoading, maxLoras);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--max-body (>= 1024), --max-n, --max-prompts,"
                    + " --max-request-tokens, --max-queued and --max-loras must be positive: " + e.getMessage());
        }
        String apiKey = null;
        if (apiKeyEnv != null) {
            apiKey = System.getenv(apiKeyEnv);
            if (apiKey == null || apiKey.isBlank()) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--api-key-env: the environment variable " + apiKeyEnv + " is not set");
            }
        }
        CheckpointStore checkpoints = new CheckpointStore(store != null ? store : StoreOption.fromEnvironment("spin serve"));
        CheckpointLocation location = CheckpointLocation.within(checkpoints.root());
        try (NDManager manager = NDManager.newBaseManager()) {
            ModelSlot slot;
            if (checkpoint != null) {
                CheckpointMetadata meta = checkpoints.metadata(checkpoint).orElseThrow(() -> new CommandLine.ParameterException(
                        spec.commandLine(), "--checkpoint: no checkpoint " + checkpoint + " in " + checkpoints.root()));
                slot = ModelSlot.fixed(LoadedModel.load(meta.id(), checkpoints.directoryOf(checkpoint), Optional.empty(), manager,
                        layout, Precision.FLOAT32), manager, layout, location);
            } else {
                SpinContext context = cluster.context(RoundKeys.all());
                OpponentWatcher watcher = new OpponentWatcher(context.kafka(), context.topics().opponent(), run).start();
                slot = ModelSlot.following(watcher, manager, layout, location, 60_000);
            }
            PrometheusMeterRegistry metrics = MetricsServer.newRegistry();
            CountDownLatch stopped = new CountDownLatch(1);
            try (slot; RequestBatcher batcher = new RequestBatcher(slot, manager, rows);
                 OpenAiServer server = new OpenAiServer(new InetSocketAddress(host, port), slot, batcher,
                         run == null ? List.of() : List.of(run), apiKey, metrics, Clock.systemUTC(), limits)) {
                Runtime.getRuntime().addShutdownHook(new Thread(stopped::countDown));
                System.out.printf("serving %s at http://%s:%d/v1%s%n", slot.current().id(), host, server.port(),
                        run == null ? "" : " (the opponent of run " + run + ", also as model \"" + run + "\")");
                stopped.await();
            }
        }
        return 0;
    }
}
