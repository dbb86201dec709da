package io.spinstream.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a user sees of {@code spin}: its own output, no JDK or library warnings. The commands run in a JVM of their
 * own started with the flags the launcher gives every command (read from the launcher itself) and the main
 * classpath's logging settings, not the tests'.
 */
class QuietConsoleTest {

    /** The JVM flags {@code ./spin} passes on this JDK, as the script writes them. */
    private static List<String> launcherFlags() throws IOException {
        String script = Files.readString(Path.of("../spin")); // tests run in the cli module's folder
        List<String> flags = new ArrayList<>(List.of("--enable-native-access=ALL-UNNAMED", "-Djava.awt.headless=true"));
        assertThat(script).as("the launcher passes the flag that silences sun.misc.Unsafe's warnings on JDK 24+")
                .contains("JVM_FLAGS+=(--sun-misc-unsafe-memory-access=allow)");
        if (Runtime.version().feature() >= 24) {
            flags.add("--sun-misc-unsafe-memory-access=allow");
        }
        return flags;
    }

    private static String run(Path dir, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        command.addAll(launcherFlags());
        // The main classes and resources first: the command's own simplelogger.properties, as ./spin runs it.
        String classpath = Path.of("target/classes").toAbsolutePath() + File.pathSeparator
                + System.getProperty("java.class.path");
        command.addAll(List.of("-cp", classpath, SpinCommand.class.getName()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return out;
    }

    @Test
    void helpAndAShortCommandPrintNoWarnings(@TempDir Path dir) throws Exception {
        String help = run(dir, "demo", "--help");
        assertThat(help).contains("Usage: spin demo");
        Path config = dir.resolve("spin.properties");
        Files.writeString(config, "spin.topic.prefix=team-a\n");
        String check = run(dir, "config", "check", config.toString(), "--verbose");
        assertThat(check.strip()).as("--verbose is taken by spin itself, not the subcommand").endsWith("problems=0");
        for (String out : List.of(help, check)) {
            assertThat(out.lines()).noneMatch(l -> l.startsWith("WARNING:") || l.contains(" WARN "));
        }
    }
}
