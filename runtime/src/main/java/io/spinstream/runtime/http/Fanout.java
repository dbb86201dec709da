package io.spinstream.runtime.http;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.function.IntFunction;

/**
 * Requests to a remote peer, {@code concurrency} in flight at once (a model server batches what arrives together),
 * on virtual threads: results in input order, the first failure thrown as it was.
 */
public final class Fanout {
    private final int concurrency;
    private final String peer;

    /** @param peer how an interruption names what was being asked */
    public Fanout(int concurrency, String peer) {
        if (concurrency < 1) {
            throw new IllegalArgumentException("concurrency must be >= 1, got " + concurrency);
        }
        this.concurrency = concurrency;
        this.peer = peer;
    }

    public <T> List<T> map(int n, IntFunction<T> task) {
        Semaphore slots = new Semaphore(concurrency);
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<T>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int index = i;
                futures.add(threads.submit(() -> {
                    slots.acquire();
                    try {
                        return task.apply(index);
                    } finally {
                        slots.release();
                    }
                }));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : futures) {
                out.add(f.get());
            }
            return out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new JsonEndpoint.Unavailable("interrupted while asking " + peer, e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        }
    }
}
