package io.spinstream.runtime.opponent;

import io.spinstream.model.checkpoint.CheckpointException;
import io.spinstream.runtime.config.InitKeys;
import io.spinstream.runtime.config.ServiceConfig;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Where the checkpoint a promotion or an event names may lie: inside the checkpoint store's root, as
 * mounted here. A URI outside it ({@code ../../}, another folder, a link that leads out) is refused with
 * the reason, so that a record on a topic cannot make a service read any file it can reach. Without a
 * root (a service not told where the store is) any path is read.
 */
public record CheckpointLocation(Optional<Path> storeRoot) {

    /** No confinement: for tools that load what the user names. */
    public static final CheckpointLocation ANYWHERE = new CheckpointLocation(Optional.empty());

    /** Confined to {@code spin.checkpoint.store} when the service is told it. */
    public static CheckpointLocation from(ServiceConfig config) {
        return config.find(InitKeys.READ_STORE).map(s -> within(Path.of(s))).orElse(ANYWHERE);
    }

    public static CheckpointLocation within(Path storeRoot) {
        return new CheckpointLocation(Optional.of(storeRoot.toAbsolutePath().normalize()));
    }

    /** The folder {@code uri} names (a {@code file:} URI or a path), refused when outside the store. */
    public Path resolve(String uri) {
        Path dir;
        try {
            dir = (uri.startsWith("file:") ? Path.of(URI.create(uri)) : Path.of(uri)).toAbsolutePath().normalize();
        } catch (IllegalArgumentException e) {
            throw new CheckpointException("checkpoint URI '" + uri + "' is refused: not a file URI or path (" + e.getMessage() + ")");
        }
        if (storeRoot.isEmpty()) {
            return dir;
        }
        Path root = storeRoot.get();
        if (!dir.startsWith(root) || dir.equals(root)) {
            throw new CheckpointException("checkpoint URI '" + uri + "' is refused: " + dir
                    + " lies outside the checkpoint store " + root);
        }
        if (Files.exists(dir)) {
            try {
                Path real = dir.toRealPath();
                Path realRoot = root.toRealPath();
                if (!real.startsWith(realRoot)) {
                    throw new CheckpointException("checkpoint URI '" + uri + "' is refused: it leads to " + real
                            + ", outside the checkpoint store " + realRoot);
                }
            } catch (IOException e) {
                throw CheckpointException.missing("cannot resolve " + dir + ": " + e.getMessage(), e);
            }
        }
        return dir;
    }
}
