package io.spinstream.cli;

import io.spinstream.model.checkpoint.CheckpointException;
import io.spinstream.model.checkpoint.CheckpointStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code spin export}: any checkpoint as a plain Hugging Face folder, a LoRA candidate as a PEFT adapter. */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Writes a checkpoint as a plain Hugging Face folder (config.json, model.safetensors, tokenizer files,",
                "generation_config.json) that the transformers library loads; a LoRA checkpoint as a PEFT adapter folder",
                "(adapter_config.json, adapter_model.safetensors), or with --merged as a plain folder with its adapters merged."})
public final class ExportCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "CHECKPOINT_ID", description = "The checkpoint (e.g. a promoted opponent).")
    String id;

    @Parameters(index = "1", paramLabel = "DIR", description = "Folder to write (must not exist or be empty).")
    Path target;

    @Option(names = "--store", paramLabel = "DIR", description = "Checkpoint store (else SPIN_CHECKPOINT_STORE).")
    Path store;

    @Option(names = "--merged", description = "For a LoRA checkpoint: a plain folder, the base with every adapter of the lineage merged.")
    boolean merged;

    @Override
    public Integer call() {
        Path storeDir = store != null ? store : StoreOption.fromEnvironment("spin export");
        try {
            CheckpointStore checkpoints = new CheckpointStore(storeDir);
            Path out = merged ? checkpoints.exportMerged(id, target) : checkpoints.exportHuggingFace(id, target);
            System.out.println("exported " + id + " to " + out.toAbsolutePath());
            return 0;
        } catch (CheckpointException | IllegalArgumentException e) {
            System.err.println("spin export: " + e.getMessage());
            return 1;
        }
    }
}
