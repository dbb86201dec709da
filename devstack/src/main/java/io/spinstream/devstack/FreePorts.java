package io.spinstream.devstack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;

/** Free TCP ports on 127.0.0.1, found by binding port 0 and releasing it. */
final class FreePorts {
    private FreePorts() {
    }

    /**
     * {@code n} distinct free ports, all bound at once before any is released: single calls in parallel
     * can be handed the same ephemeral port twice (seen: the registry's management port equal to the
     * broker's, started side by side).
     */
    static int[] distinct(int n) {
        java.util.List<ServerSocket> held = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                socket.setReuseAddress(true);
                held.add(socket);
            }
            return held.stream().mapToInt(ServerSocket::getLocalPort).toArray();
        } catch (IOException e) {
            throw new UncheckedIOException("no free port on 127.0.0.1", e);
        } finally {
            for (ServerSocket s : held) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // released either way
                }
            }
        }
    }

    /** Whether every one of {@code ports} can be bound on 127.0.0.1 now. */
    static boolean allFree(int[] ports) {
        java.util.List<ServerSocket> held = new java.util.ArrayList<>();
        try {
            for (int port : ports) {
                ServerSocket socket = new ServerSocket();
                socket.setReuseAddress(true);
                held.add(socket);
                socket.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
            }
            return true;
        } catch (IOException e) {
            return false;
        } finally {
            for (ServerSocket s : held) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // released either way
                }
            }
        }
    }
}
