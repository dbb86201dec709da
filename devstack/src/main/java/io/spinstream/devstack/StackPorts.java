package io.spinstream.devstack;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Properties;

/**
 * The ports of a stack that keeps its data: the same ones as last time while they are free (clients
 * configured with the old addresses keep working after a restart), new ones otherwise.
 */
final class StackPorts {
    private static final String FILE = "ports.properties";
    private static final String[] NAMES = {"registry.port", "registry.management.port", "kafka.port", "kafka.controller.port"};

    private StackPorts() {
    }

    static int[] of(Path dataDir) {
        Path file = dataDir.resolve(FILE);
        try {
            Files.createDirectories(dataDir);
            if (Files.isRegularFile(file)) {
                Properties p = new Properties();
                try (InputStream in = Files.newInputStream(file)) {
                    p.load(in);
                }
                int[] saved = Arrays.stream(NAMES).mapToInt(n -> Integer.parseInt(p.getProperty(n, "0"))).toArray();
                if (Arrays.stream(saved).allMatch(port -> port > 0) && FreePorts.allFree(saved)) {
                    return saved;
                }
            }
            int[] fresh = FreePorts.distinct(NAMES.length);
            Properties p = new Properties();
            for (int i = 0; i < NAMES.length; i++) {
                p.setProperty(NAMES[i], Integer.toString(fresh[i]));
            }
            try (OutputStream out = Files.newOutputStream(file)) {
                p.store(out, "ports of the dev stack kept in this folder");
            }
            return fresh;
        } catch (IOException | NumberFormatException e) {
            throw new IllegalStateException("cannot read or write the stack's ports in " + file + ": " + e.getMessage(), e);
        }
    }
}
