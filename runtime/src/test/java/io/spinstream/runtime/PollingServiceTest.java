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
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

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

    /** A clock the test moves. */
    static final class ManualClock extends Clock {
        private final AtomicLong millis = new AtomicLong(1_000_000);

        void advance(Duration d) {
            millis.addAndGet(d.toMillis());
        }

        @Override
        public long millis() {
            return millis.get();
        }

        @Override
        public Instant instant() {
            return Instant.ofEpochMilli(millis.get());
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }
    }

    @Test
    void aWorkerStuckInOneUnitOfWorkBeyondItsBoundIsNotLiveWithTheReason() throws Exception {
        ManualClock clock = new ManualClock();
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        PollingService stuck = new PollingService("generator", Duration.ofSeconds(5), clock) {
            {
                stuckAfter(Duration.ofMinutes(15), "spin.generator.stuck.after");
            }

            @Override
            protected void work() throws Exception {
                working("prompt p-7's template");
                inside.countDown();
                release.await(); // a render that does not end
                idle();
                while (running()) {
                    Thread.sleep(10);
                }
            }
        };
        stuck.start();
        try (MetricsServer server = new MetricsServer(0, MetricsServer.newRegistry(), stuck::deadBecause, stuck::isReady)) {
            assertThat(inside.await(10, TimeUnit.SECONDS)).isTrue();
            clock.advance(Duration.ofMinutes(15));
            assertThat(stuck.deadBecause()).as("at the bound, not beyond it").isEmpty();
            clock.advance(Duration.ofSeconds(2));
            assertThat(stuck.deadBecause()).hasValue("generator stuck for 902 s in prompt p-7's template"
                    + " (spin.generator.stuck.after = 900 s)");
            HttpResponse<String> response = live(server);
            assertThat(response.statusCode()).isEqualTo(503);
            assertThat(response.body()).contains("stuck for 902 s");
            release.countDown(); // the unit of work ends: live again
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (stuck.deadBecause().isPresent() && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(stuck.deadBecause()).isEmpty();
        } finally {
            release.countDown();
            stuck.stop();
        }
    }
}
