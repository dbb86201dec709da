package io.spinstream.runtime;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.spinstream.runtime.config.CommonKeys;
import io.spinstream.runtime.config.ConfigException;
import io.spinstream.runtime.config.ConfigKey;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.health.MetricsServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.function.BiFunction;

/**
 * What every service's {@code main} does: validate the configuration (exit 2 with every problem named),
 * serve metrics and health, start the service, and on SIGTERM stop it (the batch in flight is finished
 * and committed) before the JVM exits.
 */
public final class ServiceLauncher {
    private static final Logger log = LoggerFactory.getLogger(ServiceLauncher.class);

    private ServiceLauncher() {
    }

    /** The keys of a service: the common ones plus its own. */
    public static List<ConfigKey<?>> keys(Collection<ConfigKey<?>> own) {
        List<ConfigKey<?>> all = new ArrayList<>(CommonKeys.all());
        all.addAll(own);
        return all;
    }

    public static void run(String name, Collection<ConfigKey<?>> ownKeys,
                           BiFunction<SpinContext, PrometheusMeterRegistry, Service> factory) {
        LibraryLogging.quiet();
        ServiceConfig config;
        try {
            config = ServiceConfig.fromEnvironment(keys(ownKeys));
        } catch (ConfigException e) {
            System.err.println(name + ": " + e.getMessage());
            System.exit(2);
            return;
        }
        SpinContext context = SpinContext.from(config);
        PrometheusMeterRegistry registry = MetricsServer.newRegistry();
        registry.config().commonTags("service", name, "instance", context.instanceId());
        Service service = factory.apply(context, registry);
        MetricsServer metrics = new MetricsServer(new java.net.InetSocketAddress(config.get(CommonKeys.METRICS_ADDRESS),
                config.get(CommonKeys.METRICS_PORT)), registry, service::deadBecause, service::isReady);
        CountDownLatch stopped = new CountDownLatch(1);
        java.util.concurrent.atomic.AtomicBoolean stopping = new java.util.concurrent.atomic.AtomicBoolean();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stopping.set(true);
            log.info("{} stopping", name);
            try {
                service.stop();
            } finally {
                metrics.close();
                stopped.countDown();
            }
        }, name + "-shutdown"));
        service.start();
        log.info("{} started as {}; metrics and health on port {}", name, context.instanceId(), metrics.port());
        try {
            // A service that can no longer work ends the process (non-zero), so that it is restarted.
            while (!stopped.await(1, java.util.concurrent.TimeUnit.SECONDS)) {
                var dead = service.deadBecause();
                if (dead.isPresent() && !stopping.get()) { // exiting from within a shutdown would block forever
                    log.error("{} is not live: {}; exiting", name, dead.get());
                    System.exit(1);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
