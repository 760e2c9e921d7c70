package dev.winnow.cli.server;

import java.time.Duration;

/**
 * What a slow or idle client may hold: every stall has a timeout, and the open connections have a cap, so
 * connections that send nothing cannot pile up until the process runs out of file descriptors.
 *
 * @param headerTimeout  the longest silence while the server waits for a request's head: on a new connection, in
 *                       the middle of a head, and between requests on a kept-alive connection (then the connection
 *                       closes)
 * @param bodyTimeout    the longest silence while a request is handled: a body that stops arriving gets 408, and a
 *                       client that stops reading its answer is dropped (a long answer writes at least once a
 *                       second, so only a client that reads nothing is)
 * @param maxConnections connections open at once; further ones wait to be accepted until one closes
 */
public record ConnectionLimits(Duration headerTimeout, Duration bodyTimeout, int maxConnections) {
    /**
     * Defaults for a server on a public address. The header timeout is also how long a kept-alive connection may
     * idle, and it must be longer than clients keep idle connections for reuse (the JDK's client: 30 s); a server
     * that closes first races with a client sending its next request on the connection.
     */
    public static final ConnectionLimits DEFAULTS = new ConnectionLimits(Duration.ofSeconds(60), Duration.ofSeconds(30), 512);

    public ConnectionLimits {
        if (headerTimeout.compareTo(Duration.ofSeconds(1)) < 0) {
            throw new IllegalArgumentException("--header-timeout must be at least 1 second, got " + headerTimeout.toSeconds());
        }
        // Heartbeats are a second apart: a shorter timeout could end a long answer that is still being written.
        if (bodyTimeout.compareTo(Duration.ofSeconds(2)) < 0) {
            throw new IllegalArgumentException("--body-timeout must be at least 2 seconds, got " + bodyTimeout.toSeconds());
        }
        if (maxConnections < 1) {
            throw new IllegalArgumentException("--max-connections must be at least 1, got " + maxConnections);
        }
    }
}
