package io.spinstream.runtime.config;

import java.util.ArrayList;
import java.util.List;

/** The keys of {@code spin init} as a Kubernetes Job runs it (RoundZeroMain), and the checkpoint store they share. */
public final class InitKeys {
    private InitKeys() {
    }

    public static final ConfigKey<String> STORE = ConfigKey.required("spin.checkpoint.store", ValueType.TEXT,
            "folder (a shared volume on Kubernetes) where checkpoints are written");
    /** The same store as read by services that only read checkpoints: it confines the URIs they follow. */
    public static final ConfigKey<String> READ_STORE = ConfigKey.optional("spin.checkpoint.store", ValueType.TEXT, null,
            "the checkpoint store as mounted here; checkpoint URIs outside it are refused (unset: any path is read)");
    public static final ConfigKey<String> MODEL = ConfigKey.required("spin.init.model", ValueType.TEXT,
            "Hugging Face model folder that becomes the run's round-0 opponent");
    public static final ConfigKey<Boolean> REPLACE = ConfigKey.optional("spin.init.replace", ValueType.BOOLEAN, "false",
            "start the run over when it has another opponent (the generators must be stopped)");

    public static List<ConfigKey<?>> all() {
        List<ConfigKey<?>> all = new ArrayList<>(List.of(RoundKeys.RUN_ID));
        all.addAll(List.of(STORE, MODEL, REPLACE));
        return all;
    }
}
