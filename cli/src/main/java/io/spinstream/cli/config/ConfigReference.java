package io.spinstream.cli.config;

import io.spinstream.evaluator.EvaluatorKeys;
import io.spinstream.generator.GeneratorKeys;
import io.spinstream.lion.LionKeys;
import io.spinstream.runtime.ServiceLauncher;
import io.spinstream.runtime.config.ConfigException;
import io.spinstream.runtime.config.ConfigKey;
import io.spinstream.runtime.config.InitKeys;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.trainer.TrainerKeys;

import java.util.TreeSet;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * Every configuration key the services declare, with the services that read it: the configuration reference
 * ({@code docs/configuration.md}) is generated from it, so it cannot drift from the code, and {@code spin config check}
 * validates a properties file or the environment against it.
 */
public final class ConfigReference {
    /** Where the generated reference is kept in the repository. */
    public static final String DOCS_PATH = "docs/configuration.md";

    private final Map<String, List<ConfigKey<?>>> byService;

    public ConfigReference(Map<String, List<ConfigKey<?>>> byService) {
        this.byService = Map.copyOf(byService);
    }

    /** The services of this build, each with the keys it validates at start (the common keys included). */
    public static ConfigReference ofServices() {
        Map<String, List<ConfigKey<?>>> keys = new LinkedHashMap<>();
        keys.put("generator", ServiceLauncher.keys(GeneratorKeys.all()));
        keys.put("trainer", ServiceLauncher.keys(TrainerKeys.all()));
        keys.put("evaluator", ServiceLauncher.keys(EvaluatorKeys.all()));
        keys.put("lion", ServiceLauncher.keys(LionKeys.all()));
        keys.put("init", ServiceLauncher.keys(InitKeys.all()));
        return new ConfigReference(keys);
    }

    public Set<String> services() {
        return new TreeSet<>(byService.keySet());
    }

    /** The reference page: one row per key, by name. */
    public String markdown() {
        Map<String, ConfigKey<?>> keys = new TreeMap<>();
        Map<String, Set<String>> readers = new TreeMap<>();
        Map<String, Set<String>> requiredBy = new TreeMap<>();
        for (String service : services()) {
            for (ConfigKey<?> k : byService.get(service)) {
                keys.putIfAbsent(k.name(), k);
                readers.computeIfAbsent(k.name(), n -> new LinkedHashSet<>()).add(service);
                if (k.required()) {
                    requiredBy.computeIfAbsent(k.name(), n -> new LinkedHashSet<>()).add(service);
                }
            }
        }
        StringBuilder out = new StringBuilder();
        out.append("# Configuration reference\n\n");
        out.append("Generated from the keys the services declare (`./spin config docs` writes this page; a test fails when it\n");
        out.append("differs from the code). Every service reads its keys from a properties file (`SPIN_CONFIG_FILE=path`) and\n");
        out.append("from environment variables (the key upper-cased, dots as underscores); the environment wins. Values are\n");
        out.append("validated at start: an error names the key, both spellings and the expected form, and\n");
        out.append("`./spin config check FILE [--service NAME]` reports every problem of a file (or of the environment) before a\n");
        out.append("deployment. Keys under `spin.kafka.` go to every Kafka client as they are (`spin.kafka.security.protocol`).\n\n");
        out.append("| key | environment variable | value | default | read by | what it sets |\n");
        out.append("|---|---|---|---|---|---|\n");
        for (ConfigKey<?> k : keys.values()) {
            Set<String> required = requiredBy.getOrDefault(k.name(), Set.of());
            String dflt = !required.isEmpty() ? "required" + (required.size() < readers.get(k.name()).size()
                    ? " by " + String.join(", ", required) : "")
                    : k.defaultValue() == null || k.defaultValue().isEmpty() ? "" : "`" + k.defaultValue() + "`";
            out.append("| `").append(k.name()).append("` | `").append(k.envName()).append("` | ").append(cell(k.type().expected()))
                    .append(" | ").append(dflt).append(" | ").append(String.join(", ", readers.get(k.name())))
                    .append(" | ").append(cell(k.doc())).append(" |\n");
        }
        return out.toString();
    }

    private static String cell(String text) {
        return text.replace("|", "\\|").replace("\n", " ");
    }

    /**
     * Every problem of a configuration: values that do not parse, unknown keys (with the closest known one) and, for
     * one service, its required keys that are missing. Without a service, each key is checked as any service that
     * reads it would (a file shared by all services names keys none of them requires alone).
     */
    public List<String> check(Map<String, String> env, Optional<Path> file, Optional<String> service) {
        Collection<ConfigKey<?>> keys;
        if (service.isPresent()) {
            keys = byService.get(service.get());
            if (keys == null) {
                throw new IllegalArgumentException("--service '" + service.get() + "': expected one of " + services());
            }
        } else {
            Map<String, ConfigKey<?>> union = new LinkedHashMap<>();
            byService.values().forEach(list -> list.forEach(k -> union.putIfAbsent(k.name(),
                    ConfigKey.optional(k.name(), k.type(), k.defaultValue(), k.doc()))));
            keys = union.values();
        }
        try {
            ServiceConfig.load(keys, env, file, Map.of());
            return List.of();
        } catch (ConfigException e) {
            List<String> problems = new ArrayList<>();
            for (String line : e.getMessage().split("\n")) {
                if (line.startsWith("  - ")) {
                    problems.add(line.substring(4));
                }
            }
            return problems;
        }
    }
}
