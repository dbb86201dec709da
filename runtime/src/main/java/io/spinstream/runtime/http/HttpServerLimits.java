package io.spinstream.runtime.http;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * How the project's JDK HTTP servers (the services' metrics and health, {@code spin serve}) hold their clients. The
 * JDK server reads a request's headers on the thread that handles it and by default waits for them forever, so a
 * client that connects and sends nothing would hold a thread for good: a request must arrive within 10 s, at most
 * 1,000 connections are held, and each request runs on a virtual thread of its own, so a slow client never holds
 * another's thread.
 */
public final class HttpServerLimits {
    private HttpServerLimits() {
    }

    /**
     * Sets the JDK server's bounds where the operator has not (system properties, read once, when the JVM's first
     * server starts): call before creating a server.
     */
    public static void apply() {
        setIfAbsent("sun.net.httpserver.maxReqTime", "10");
        setIfAbsent("jdk.httpserver.maxConnections", "1000");
    }

    /** An executor running each request on a virtual thread named {@code name-N}. */
    public static ExecutorService perRequestThreads(String name) {
        return Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name(name + "-", 0).factory());
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }
}
