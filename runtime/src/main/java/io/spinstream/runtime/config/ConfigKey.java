package io.spinstream.runtime.config;

import java.util.Locale;

/**
 * One configuration key. The same key is read from a properties file ({@code spin.topic.prefix}) and
 * from the environment ({@code SPIN_TOPIC_PREFIX}); the environment wins.
 *
 * @param defaultValue the raw default, or null when the key has none
 */
public record ConfigKey<T>(String name, ValueType<T> type, String defaultValue, boolean required, String doc) {

    public ConfigKey {
        if (!name.matches("spin(\\.[a-z0-9]+)+")) {
            throw new IllegalArgumentException("config key names are lower-case, dot-separated and start with spin.: " + name);
        }
    }

    public static <T> ConfigKey<T> required(String name, ValueType<T> type, String doc) {
        return new ConfigKey<>(name, type, null, true, doc);
    }

    public static <T> ConfigKey<T> optional(String name, ValueType<T> type, String defaultValue, String doc) {
        return new ConfigKey<>(name, type, defaultValue, false, doc);
    }

    /** The environment variable that sets this key. */
    public String envName() {
        return envName(name);
    }

    public static String envName(String key) {
        return key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
    }

    /** How errors name the key: both spellings, so that either source can be fixed. */
    public String display() {
        return name + " (env " + envName() + ")";
    }
}
