package io.spinstream.cli;

import io.spinstream.model.checkpoint.CheckpointException;
import io.spinstream.model.checkpoint.HfImport;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.opponent.RoundZero;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code spin init}: a team's own Hugging Face model becomes a run's round-0 opponent. */
@Command(name = "init", mixinStandardHelpOptions = true,
        description = {"Imports a Hugging Face model folder (LlamaForCausalLM, MistralForCausalLM or Qwen2ForCausalLM;",
                "safetensors F32/F16/BF16, one file or shards; tokenizer.json, tokenizer_config.json, generation_config.json)",
                "into the checkpoint store as a base and publishes it as the run's round-0 opponent.",
                "The same folder twice is the same base and no second promotion."})
public final class InitCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions cluster;

    @Option(names = "--run", required = true, description = "Run id (the services' spin.run.id).")
    String run;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "The Hugging Face model folder.")
    Path model;

    @Option(names = "--store", paramLabel = "DIR", description = "Checkpoint store (else SPIN_CHECKPOINT_STORE).")
    Path store;

    @Option(names = "--replace", description = "Start the run over when it has another opponent (stop the generators first).")
    boolean replace;

    @Override
    public Integer call() throws Exception {
        Path storeDir = store != null ? store : StoreOption.fromEnvironment("spin init");
        SpinContext context = cluster.context(List.of());
        try {
            long total = HfImport.size(model);
            RoundZero.Outcome outcome;
            try (ProgressBar bar = new ProgressBarBuilder().setTaskName("import " + model.getFileName())
                    .setInitialMax(Math.max(1, total >> 20)).setUnit(" MiB", 1).setUpdateIntervalMillis(500).build()) {
                outcome = new RoundZero(context).establish(run, storeDir, model, replace, done -> bar.stepTo(done >> 20));
                bar.stepTo(bar.getMax());
            }
            System.out.println((outcome.base().reused() ? "base " + outcome.base().metadata().id() + " was in the store already; "
                    : "imported " + model + " as " + outcome.base().metadata().id() + " (" + outcome.base().directory() + "); ")
                    + outcome.message());
            return 0;
        } catch (CheckpointException | IllegalStateException e) {
            System.err.println("spin init: " + e.getMessage());
            return 1;
        }
    }
}
