package io.spinstream.runtime.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;

/**
 * A service's configuration, from a properties file and environment variables with the same keys
 * ({@code spin.bootstrap.servers} / {@code SPIN_BOOTSTRAP_SERVERS}; the environment wins), validated
 * at start against the declared keys: every problem is reported at once, each naming its key and the
 * expected form. Keys under {@code spin.kafka.} are passed to every Kafka client as they are
 * ({@code spin.kafka.security.protocol}, {@code SPIN_KAFKA_SASL_JAAS_CONFIG}, ...).
 */
public final class ServiceConfig {
    /** Points at the properties file; the file is optional. */
    public static final String CONFIG_FILE_ENV = "SPIN_CONFIG_FILE";
    public static final String KAFKA_PASSTHROUGH = "spin.kafka.";

    private final Map<String, ConfigKey<?>> declared;
    private final Map<String, String> raw;
    private final Map<String, Object> parsed;

    private ServiceConfig(Map<String, ConfigKey<?>> declared, Map<String, String> raw, Map<String, Object> parsed) {
        this.declared = declared;
        this.raw = raw;
        this.parsed = parsed;
    }

    /** Reads {@code SPIN_CONFIG_FILE} (if set) and the process environment. */
    public static ServiceConfig fromEnvironment(Collection<ConfigKey<?>> keys) {
        Map<String, String> env = System.getenv();
        Optional<Path> file = Optional.ofNullable(env.get(CONFIG_FILE_ENV)).filter(s -> !s.isBlank()).map(Path::of);
        return load(keys, env, file, Map.of());
    }

    /**
     * @param overrides values that win over both sources (command-line flags), by key name
     */
    public static ServiceConfig load(Collection<ConfigKey<?>> keys, Map<String, String> env, Optional<Path> file,
                                     Map<String, String> overrides) {
        Map<String, ConfigKey<?>> declared = new LinkedHashMap<>();
        // Services run together (the demo, spin up) may declare one key twice, required by one (the trainer's
        // store) and optional for another: the required one stands.
        keys.forEach(k -> declared.merge(k.name(), k, (a, b) -> a.required() ? a : b));
        List<String> problems = new ArrayList<>();
        Map<String, String> raw = new TreeMap<>();

        file.ifPresent(path -> readFile(path, declared, raw, problems));
        // The environment: declared keys by their variable name, pass-through keys by prefix.
        for (ConfigKey<?> key : declared.values()) {
            String v = env.get(key.envName());
            if (v != null) {
                raw.put(key.name(), v);
            }
        }
        String passEnv = ConfigKey.envName(KAFKA_PASSTHROUGH);
        env.forEach((name, value) -> {
            if (name.startsWith(passEnv) && name.length() > passEnv.length()) {
                String kafkaKey = name.substring(passEnv.length()).toLowerCase().replace('_', '.');
                raw.put(KAFKA_PASSTHROUGH + kafkaKey, value);
            }
        });
        overrides.forEach((k, v) -> {
            if (!declared.containsKey(k) && !k.startsWith(KAFKA_PASSTHROUGH)) {
                problems.add("unknown key " + k);
            } else {
                raw.put(k, v);
            }
        });

        Map<String, Object> parsed = new LinkedHashMap<>();
        for (ConfigKey<?> key : declared.values()) {
            String value = raw.getOrDefault(key.name(), key.defaultValue());
            if (value == null || value.isBlank()) {
                if (key.required()) {
                    problems.add(key.display() + " is required: expected " + key.type().expected()
                            + " (" + key.doc() + ")");
                }
                continue;
            }
            try {
                parsed.put(key.name(), key.type().parse(value));
            } catch (RuntimeException e) {
                problems.add(key.display() + ": expected " + key.type().expected() + ", got '" + value + "'");
            }
        }
        if (!problems.isEmpty()) {
            throw new ConfigException("invalid configuration:\n  - " + String.join("\n  - ", problems));
        }
        return new ServiceConfig(declared, raw, parsed);
    }

    private static void readFile(Path path, Map<String, ConfigKey<?>> declared, Map<String, String> raw,
                                 List<String> problems) {
        if (!Files.isRegularFile(path)) {
            problems.add(CONFIG_FILE_ENV + ": expected a readable properties file, got '" + path + "' (no such file)");
            return;
        }
        Properties p = new Properties();
        try (Reader reader = Files.newBufferedReader(path)) {
            p.load(reader);
        } catch (IOException | IllegalArgumentException e) {
            problems.add(CONFIG_FILE_ENV + ": cannot read '" + path + "': " + e.getMessage());
            return;
        }
        for (String name : p.stringPropertyNames()) {
            if (declared.containsKey(name) || name.startsWith(KAFKA_PASSTHROUGH)) {
                raw.put(name, p.getProperty(name));
            } else {
                problems.add(path + ": unknown key " + name + closest(name, declared.keySet()));
            }
        }
    }

    private static String closest(String name, Collection<String> known) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String k : known) {
            int d = distance(name, k);
            if (d < bestDistance) {
                bestDistance = d;
                best = k;
            }
        }
        return best != null && bestDistance <= 3 ? " (did you mean " + best + "?)" : "";
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    /** The parsed value; throws if the key was not declared. Optional keys without default give empty. */
    public <T> Optional<T> find(ConfigKey<T> key) {
        if (!declared.containsKey(key.name())) {
            throw new IllegalArgumentException("config key " + key.name() + " was not declared to this service");
        }
        @SuppressWarnings("unchecked")
        T value = (T) parsed.get(key.name());
        return Optional.ofNullable(value);
    }

    public <T> T get(ConfigKey<T> key) {
        return find(key).orElseThrow(() -> new ConfigException(key.display() + " is not set: expected "
                + key.type().expected()));
    }

    /** The {@code spin.kafka.*} settings with the prefix removed, for every Kafka client. */
    public Map<String, String> kafkaPassthrough() {
        Map<String, String> out = new TreeMap<>();
        raw.forEach((k, v) -> {
            if (k.startsWith(KAFKA_PASSTHROUGH)) {
                out.put(k.substring(KAFKA_PASSTHROUGH.length()), v);
            }
        });
        return out;
    }

    public Collection<ConfigKey<?>> declaredKeys() {
        return declared.values();
    }
}
