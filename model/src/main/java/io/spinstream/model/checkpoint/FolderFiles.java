package io.spinstream.model.checkpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * A model folder's files, read only through its own names: a name is a plain file name (an index's shard names
 * included), and a symbolic link is followed only to a regular file inside the folder, or inside the {@code blobs/}
 * folder of the Hugging Face cache the folder is a snapshot of ({@code snapshot_download} links every file of
 * {@code models--org--name/snapshots/REV/} to {@code ../../blobs/HASH}). A link anywhere else (a system file, a
 * folder) is refused naming it.
 */
final class FolderFiles {
    private FolderFiles() {
    }

    /** Whether {@code dir} has an entry {@code name} (a file or a link, followed or not). */
    static boolean present(Path dir, String name) {
        return Files.exists(dir.resolve(plain(dir, name)), LinkOption.NOFOLLOW_LINKS);
    }

    /** The folder's file {@code name}, checked as above; refused naming the file when it is not one of the folder's. */
    static Path file(Path dir, String name) {
        Path p = dir.resolve(plain(dir, name));
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            throw CheckpointException.missing(p + " is missing");
        }
        if (!Files.isSymbolicLink(p)) {
            if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                throw new CheckpointException(p + " is not a regular file");
            }
            return p;
        }
        try {
            Path target = p.toRealPath();
            Path home = dir.toRealPath();
            Path snapshots = home.getParent();
            Path cacheBlobs = snapshots == null || snapshots.getParent() == null || !snapshots.getFileName().toString().equals("snapshots")
                    ? null : snapshots.getParent().resolve("blobs");
            boolean inside = target.getParent().equals(home) || (cacheBlobs != null && target.getParent().equals(cacheBlobs));
            if (!inside || !Files.isRegularFile(target)) {
                throw new CheckpointException(p + " is a link to " + target + ", outside the model folder (a link may only"
                        + " lead to a file of the folder or of its Hugging Face cache's blobs/)");
            }
            return p;
        } catch (IOException e) {
            throw new CheckpointException(p + " is a link that cannot be followed: " + e.getMessage(), e);
        }
    }

    /** {@code name} when it is a plain file name; refused otherwise (a path, '..', empty). */
    private static String plain(Path dir, String name) {
        if (name.isEmpty() || name.equals(".") || name.equals("..") || name.contains("/") || name.contains("\\")
                || name.indexOf('\0') >= 0) {
            throw new CheckpointException(dir + ": '" + name + "' is not a file name of the folder (a path outside it?)");
        }
        return name;
    }
}
