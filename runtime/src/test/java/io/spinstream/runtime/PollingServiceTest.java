package io.spinstream.runtime;

import io.spinstream.runtime.health.MetricsServer;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

/** A service is live only while its worker and the parts it watches run; /health/live says why not. */
class PollingServiceTest {

    /** A poll loop doing nothing but what the test tells it to. */
    static final class Loop extends PollingService {
        private final Runnable body;

        Loop(Runnable body) {
            super("loop", Duration.ofSeconds(5));
            this.body = body;
        }

        void watchPart(String name, AtomicBoolean alive) {
            watch(name, alive::get);
        }

        @Override
        protected void work() throws Exception {
            body.run();
            while (running()) {
                Thread.sleep(10);
            }
        }
    }

    static Optional<String> awaitDead(Supplier<Optional<String>> dead) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (dead.get().isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        return dead.get();
    }

    static HttpResponse<String> live(MetricsServer server) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
                + "/health/live")).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void aWorkerThatFailedMakesTheServiceNotLiveWithTheReason() throws Exception {
        Loop loop = new Loop(() -> {
            throw new IllegalStateException("the pair joiner stopped in state ERROR");
        });
        try (MetricsServer server = new MetricsServer(0, MetricsServer.newRegistry(), loop::deadBecause, loop::isReady)) {
            assertThat(live(server).statusCode()).as("not started yet is not dead").isEqualTo(200);
            loop.start();
            assertThat(awaitDead(loop::deadBecause)).hasValueSatisfying(r ->
                    assertThat(r).contains("loop failed").contains("the pair joiner stopped in state ERROR"));
            HttpResponse<String> response = live(server);
            assertThat(response.statusCode()).isEqualTo(503);
            assertThat(response.body()).startsWith("DOWN: loop failed").contains("ERROR");
        } finally {
            loop.stop();
        }
    }

    @Test
    void aDeadPartMakesTheServiceNotLiveAndStoppingIsNotDeath() throws Exception {
        AtomicBoolean follower = new AtomicBoolean(true);
        Loop loop = new Loop(() -> {
        });
        loop.watchPart("opponent follower", follower);
        loop.start();
        Thread.sleep(50);
        assertThat(loop.deadBecause()).isEmpty();
        follower.set(false);
        assertThat(loop.deadBecause()).hasValue("loop: opponent follower is not running");
        loop.stop();
        assertThat(loop.deadBecause()).as("a service stopping closes its parts on purpose").isEmpty();
    }

    @Test
    void aWorkerThatEndedWhileRunningIsNotLive() throws Exception {
        PollingService ends = new PollingService("ends", Duration.ofSeconds(5)) {
            @Override
            protected void work() {
                // returns at once, as a loop that broke out of its poll would
            }
        };
        ends.start();
        assertThat(awaitDead(ends::deadBecause)).hasValue("ends stopped working");
        ends.stop();
        assertThat(ends.deadBecause()).isEmpty();
    }
}
