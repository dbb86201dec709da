package io.spinstream.runtime.kafka;

import io.spinstream.runtime.SpinContext;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.Topic;
import io.spinstream.schemas.TopicProvisioner;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;

import io.spinstream.schemas.TopicSettings;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.UUID;
import java.util.function.IntConsumer;

/**
 * Publishes prompts to a stream: creates the stream's topic with the catalogue's settings (and registers
 * its schema) when it is missing, then writes every prompt in one transaction, so that a failure leaves
 * nothing half-written for the generators to read.
 */
public final class PromptPublisher {
    private final SpinContext context;

    public PromptPublisher(SpinContext context) {
        this.context = context;
    }

    /** @param progress called with the number of prompts sent so far */
    public Topic<String, Prompt> publish(String stream, List<Prompt> prompts, IntConsumer progress) {
        Topic<String, Prompt> topic = context.topics().prompts(stream);
        try (Admin admin = Admin.create(context.kafka().admin())) {
            new TopicProvisioner(admin, context.registrar()).ensure(List.of(coPartitioned(admin, topic)));
        }
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(
                context.kafka().transactionalProducer("spin-prompts-" + stream + "-" + UUID.randomUUID()))) {
            producer.initTransactions();
            producer.beginTransaction();
            int sent = 0;
            for (Prompt p : prompts) {
                producer.send(topic.rawRecord(p.getPromptId(), p));
                progress.accept(++sent);
            }
            producer.commitTransaction();
        }
        return topic;
    }

    /**
     * The trainer joins every prompt stream with the synthetic answers by prompt_id, which needs both
     * topics to have the same partitions; a new stream takes the synthetic topic's count when that topic
     * exists, whatever this client's own layout says.
     */
    private Topic<String, Prompt> coPartitioned(Admin admin, Topic<String, Prompt> topic) {
        String synthetic = context.topics().synthetic().name();
        try {
            int partitions = admin.describeTopics(List.of(synthetic)).allTopicNames().get(30, TimeUnit.SECONDS)
                    .get(synthetic).partitions().size();
            if (partitions == topic.settings().partitions()) {
                return topic;
            }
            TopicSettings s = topic.settings();
            return new Topic<>(topic.name(), topic.keySerde(), topic.valueSerde(),
                    new TopicSettings(partitions, s.replicationFactor(), s.configs()), topic.valueSchema());
        } catch (ExecutionException e) {
            if (e.getCause() instanceof UnknownTopicOrPartitionException) {
                return topic;
            }
            throw new IllegalStateException("cannot describe " + synthetic + ": " + e.getCause(), e.getCause());
        } catch (InterruptedException | TimeoutException e) {
            throw new IllegalStateException("cannot describe " + synthetic + ": " + e, e);
        }
    }
}
