package io.spinstream.cli;

import io.spinstream.cli.ops.KafkaTopicManifests;
import io.spinstream.schemas.AvroSerdes;
import io.spinstream.schemas.Topics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

/** {@code spin k8s ...}: what the Kubernetes manifests take from the code. */
@Command(name = "k8s", mixinStandardHelpOptions = true, description = "Kubernetes manifests generated from the code.",
        subcommands = {K8sCommand.TopicsYaml.class})
public final class K8sCommand implements Runnable {

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    @Command(name = "topics", mixinStandardHelpOptions = true,
            description = "The catalogue's topics as Strimzi KafkaTopic resources (k8s/base/topics.yaml).")
    static final class TopicsYaml implements Callable<Integer> {
        @Option(names = "--prefix", defaultValue = "spin", description = "Topic prefix (default: ${DEFAULT-VALUE}).")
        String prefix;

        @Option(names = "--partitions", defaultValue = "6", description = "Partitions of the busy topics (default: ${DEFAULT-VALUE}).")
        int partitions;

        @Option(names = "--replication", defaultValue = "3", description = "Replicas of every topic (default: ${DEFAULT-VALUE}).")
        short replication;

        @Option(names = "--cluster", defaultValue = "spin-kafka", description = "Strimzi Kafka cluster name (default: ${DEFAULT-VALUE}).")
        String cluster;

        @Override
        public Integer call() {
            Topics topics = new Topics(prefix, new Topics.Layout(partitions, replication), new AvroSerdes("http://unused"));
            System.out.print(KafkaTopicManifests.yaml(topics, cluster));
            return 0;
        }
    }
}
