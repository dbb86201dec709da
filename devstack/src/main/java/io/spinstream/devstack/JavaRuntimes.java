package io.spinstream.devstack;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Finds a Java runtime of at least a given feature version: this JVM, then JAVA_HOME, then the usual
 * install folders. The registry server needs Java 21+ even when a tool runs on an older default java.
 */
public final class JavaRuntimes {
    static final List<Path> INSTALL_FOLDERS = List.of(
            Path.of("/usr/lib/jvm"), Path.of("/usr/java"), Path.of("/opt/java"), Path.of("/opt"),
            Path.of("/Library/Java/JavaVirtualMachines"));
    private static final Pattern RELEASE_VERSION = Pattern.compile("^JAVA_VERSION=\"(\\d+)(?:[.\"].*)?$",
            Pattern.MULTILINE);

    private final Map<String, String> env;
    private final List<Path> installFolders;

    public JavaRuntimes() {
        this(System.getenv(), INSTALL_FOLDERS);
    }

    JavaRuntimes(Map<String, String> env, List<Path> installFolders) {
        this.env = env;
        this.installFolders = installFolders;
    }

    /** The {@code java} executable of a runtime with feature version &ge; {@code minimum}. */
    public Path javaExecutable(int minimum) {
        return find(minimum).orElseThrow(() -> new IllegalStateException(
                "no Java " + minimum + "+ runtime found: this JVM is " + Runtime.version().feature()
                        + ", JAVA_HOME is " + env.getOrDefault("JAVA_HOME", "unset")
                        + ", and none under " + installFolders
                        + ". Install a JDK " + minimum + "+ (for example Temurin) or point JAVA_HOME at one."));
    }

    public Optional<Path> find(int minimum) {
        List<Path> homes = new ArrayList<>();
        homes.add(Path.of(System.getProperty("java.home")));
        String javaHome = env.get("JAVA_HOME");
        if (javaHome != null && !javaHome.isBlank()) {
            homes.add(Path.of(javaHome));
        }
        for (Path folder : installFolders) {
            homes.addAll(children(folder));
        }
        return homes.stream()
                .filter(home -> Files.isExecutable(home.resolve("bin/java"))
                        || Files.isExecutable(home.resolve("Contents/Home/bin/java")))
                .map(home -> Files.isExecutable(home.resolve("bin/java")) ? home : home.resolve("Contents/Home"))
                .filter(home -> featureVersion(home).orElse(0) >= minimum)
                .findFirst()
                .map(home -> home.resolve("bin/java"));
    }

    private static List<Path> children(Path folder) {
        if (!Files.isDirectory(folder)) {
            return List.of();
        }
        try (Stream<Path> list = Files.list(folder)) {
            // Newest first by name, so that temurin-25 wins over temurin-21.
            return list.sorted(Comparator.reverseOrder()).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** Reads the feature version from the JDK's {@code release} file, or from this JVM. */
    static Optional<Integer> featureVersion(Path home) {
        if (home.equals(Path.of(System.getProperty("java.home")))) {
            return Optional.of(Runtime.version().feature());
        }
        Path release = home.resolve("release");
        if (!Files.isRegularFile(release)) {
            return Optional.empty();
        }
        try {
            Matcher m = RELEASE_VERSION.matcher(Files.readString(release));
            if (!m.find()) {
                return Optional.empty();
            }
            int major = Integer.parseInt(m.group(1));
            // Java 8 and older write "1.8.0_..."
            return Optional.of(major == 1 ? 8 : major);
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }
}
