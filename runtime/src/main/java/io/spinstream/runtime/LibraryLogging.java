package io.spinstream.runtime;

import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Quiets library warnings that tell a user nothing, logged through java.util.logging (slf4j's levels do
 * not reach them): the registry client's note that it uses Vert.x's shared instance.
 */
public final class LibraryLogging {
    // java.util.logging keeps loggers weakly: a level set on an unreferenced logger is lost.
    private static final Logger VERTX_INSTANCE = Logger.getLogger("io.apicurio.registry.client.common.DefaultVertxInstance");

    private LibraryLogging() {
    }

    public static void quiet() {
        VERTX_INSTANCE.setLevel(Level.SEVERE);
    }
}
