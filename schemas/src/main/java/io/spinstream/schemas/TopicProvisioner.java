package io.spinstream.schemas;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Creates the catalogue's topics with their settings and registers their value schemas. Idempotent:
 * a topic that exists is left as it is, a schema that is registered already keeps its id.
 */
public final class TopicProvisioner {
    private static final Logger log = LoggerFactory.getLogger(TopicProvisioner.class);

    private final Admin admin;
    private final SchemaRegistrar registrar;

    public TopicProvisioner(Admin admin, SchemaRegistrar registrar) {
        this.admin = admin;
        this.registrar = registrar;
    }

    /** Creates what is missing; returns the names of the topics it created. */
    public List<String> ensure(Collection<? extends Topic<?, ?>> topics) {
        List<String> created = new ArrayList<>();
        for (Topic<?, ?> topic : topics) {
            if (create(topic.settings().toNewTopic(topic.name()))) {
                created.add(topic.name());
            }
            registrar.register(topic);
        }
        if (!created.isEmpty()) {
            log.info("created topics {}", created);
        }
        return created;
    }

    private boolean create(NewTopic topic) {
        try {
            admin.createTopics(List.of(topic)).all().get(60, TimeUnit.SECONDS);
            return true;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof TopicExistsException) {
                return false;
            }
            throw new IllegalStateException("cannot create topic " + topic.name() + ": " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("creating topic " + topic.name() + " timed out after 60 s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating topic " + topic.name(), e);
        }
    }

    /** Topic-level configs of an existing topic, for checks. */
    public Map<String, String> describeConfigs(String topic) {
        try {
            ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            var config = admin.describeConfigs(List.of(resource)).all().get(30, TimeUnit.SECONDS).get(resource);
            Map<String, String> out = new TreeMap<>();
            config.entries().forEach(e -> out.put(e.name(), e.value()));
            return out;
        } catch (Exception e) {
            throw new IllegalStateException("cannot describe topic " + topic + ": " + e, e);
        }
    }
}
