package io.spinstream.cli;

import io.spinstream.demo.ArithmeticTask;
import io.spinstream.demo.DemoModel;
import io.spinstream.demo.DemoSetup;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The demo's task and model size, shared by spin demo, spin up and spin bench ablation. */
final class DemoOptions {
    @Option(names = "--digits", description = "Digits per operand of the addition task (default: the demo's).")
    Integer digits;

    @Option(names = "--prompts", description = "Prompts on the task's stream (default: the demo's).")
    Integer prompts;

    @Option(names = "--hidden", description = "Hidden size of the demo model (default: the demo's).")
    Integer hidden;

    @Option(names = "--layers", description = "Layers of the demo model (default: the demo's).")
    Integer layers;

    @Option(names = "--labelled", paramLabel = "SHARE", description = "Share of the training prompts that keep their human"
            + " answer, in (0, 1] (default: 1). Below 1 the base is trained on those alone and the stream carries the rest"
            + " unlabelled, for RAFT or RRHF with the verifier.")
    Double labelled;

    @Option(names = "--dir", description = "Where the base and the runs are kept (default: target/demo in the project).")
    Path dir;

    DemoSetup setup() {
        DemoSetup d = DemoSetup.defaults();
        ArithmeticTask t = d.task();
        DemoModel m = d.model();
        ArithmeticTask task = new ArithmeticTask(digits == null ? t.digits() : digits, prompts == null ? t.prompts() : prompts,
                t.validation(), t.seed(), t.reversed());
        DemoModel model = new DemoModel(hidden == null ? m.hidden() : hidden, layers == null ? m.layers() : layers, m.heads(),
                Math.max(m.maxPositions(), 4 * task.digits() + 8));
        if (labelled != null && !(labelled > 0 && labelled <= 1)) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(new DemoCommand()),
                    "--labelled must be a share in (0, 1], was " + labelled);
        }
        return new DemoSetup(task, d.stream(), model, d.sft(), d.split(), labelled == null ? 1.0 : labelled);
    }

    Path root() {
        return dir == null ? DemoCommand.projectDir().resolve("target/demo") : dir;
    }

    /** A fresh folder for one benchmark run (each keeps its candidates apart: a store refuses to overwrite one). */
    /** The demo's base in this root: found (its sha256 checked) or trained now, its progress printed. */
    io.spinstream.demo.DemoBase.Base ensureBase(io.spinstream.demo.DemoSetup setup) {
        return setup.base().ensure(root().resolve("base"), System.out::println);
    }

    java.nio.file.Path benchDir(String bench) {
        return root().resolve(bench).resolve(java.time.LocalDateTime.now()
                .format(java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
    }
}
