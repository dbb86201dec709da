package io.spinstream.cli;

import io.spinstream.runtime.kafka.ConsumerLag;
import org.apache.kafka.clients.admin.Admin;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code spin lag [--watch]}: committed offset, log end and lag per consumer group, topic and partition. */
@Command(name = "lag", mixinStandardHelpOptions = true,
        description = "Consumer lag per group, topic and partition (as kafka-consumer-groups --describe).")
public final class LagCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions cluster;

    @Option(names = "--group", paramLabel = "PREFIX", description = "Only groups starting with this (default: all).")
    String group;

    @Option(names = "--watch", description = "Print again every --interval seconds until Ctrl-C.")
    boolean watch;

    @Option(names = "--interval", defaultValue = "5", description = "Seconds between prints with --watch (default: ${DEFAULT-VALUE}).")
    int interval;

    @Override
    public Integer call() throws Exception {
        try (Admin admin = Admin.create(cluster.kafka().admin())) {
            do {
                print(ConsumerLag.of(admin, group), System.out);
                if (watch) {
                    Thread.sleep(interval * 1000L);
                }
            } while (watch);
        }
        return 0;
    }

    static void print(List<ConsumerLag.PartitionLag> rows, PrintStream out) {
        out.printf("%-40s %-40s %9s %14s %14s %10s%n", "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG");
        for (ConsumerLag.PartitionLag r : rows) {
            out.printf("%-40s %-40s %9d %14d %14d %10d%n", r.group(), r.topic(), r.partition(), r.committed(), r.logEnd(), r.lag());
        }
        out.println("total lag " + rows.stream().mapToLong(ConsumerLag.PartitionLag::lag).sum());
    }
}
