package io.spinstream.cli;

import picocli.CommandLine;

import java.nio.file.Path;

/** The checkpoint store of commands that take {@code --store}: else the services' SPIN_CHECKPOINT_STORE. */
final class StoreOption {
    private StoreOption() {
    }

    static Path fromEnvironment(String command) {
        String env = System.getenv("SPIN_CHECKPOINT_STORE");
        if (env == null || env.isBlank()) {
            throw new CommandLine.ParameterException(new CommandLine(new SpinCommand()),
                    command + ": no checkpoint store: pass --store DIR or set SPIN_CHECKPOINT_STORE");
        }
        return Path.of(env);
    }
}
