package io.spinstream.model.plan;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/** What the kernel says of memory (Linux's /proc): the process's resident sizes and the machine's memory. */
public final class MachineMemory {
    private MachineMemory() {
    }

    /** A figure of /proc/self/status in bytes ({@code VmRSS:}, {@code VmHWM:}); empty where there is none. */
    public static OptionalLong process(String key) {
        return kilobytes(Path.of("/proc/self/status"), key);
    }

    /** A figure of /proc/meminfo in bytes ({@code MemTotal:}, {@code MemAvailable:}); empty where there is none. */
    public static OptionalLong machine(String key) {
        return kilobytes(Path.of("/proc/meminfo"), key);
    }

    /** Resets the process's peak resident size (VmHWM) to its current one (Linux 4.0+). */
    public static void resetPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot reset the peak resident size (/proc/self/clear_refs)", e);
        }
    }

    private static OptionalLong kilobytes(Path file, String key) {
        try {
            for (String line : Files.readAllLines(file)) {
                if (line.startsWith(key)) {
                    return OptionalLong.of(Long.parseLong(line.replaceAll("\\D+", "")) * 1024);
                }
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux, or not readable: no figure
        }
        return OptionalLong.empty();
    }
}
