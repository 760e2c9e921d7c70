package dev.winnow.tests.hub;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A stand-in for the Hugging Face hub on 127.0.0.1: serves one file at {@code /{repo}/resolve/main/{file}} the
 * way the hub serves large files: a 302 redirect carrying {@code X-Linked-Size} and {@code X-Linked-Etag} (the
 * SHA-256) to a download address that honours {@code Range}. It can be told to announce a wrong hash, to break
 * the connection after some bytes, or to send fewer bytes than it announced. Records the requests it gets.
 */
final class LocalHub implements AutoCloseable {
    /** What one request asked for: the path and its Range header (or null). */
    record Request(String path, String range) {
    }

    private final HttpServer server;
    private final String path;
    private final byte[] content;
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    volatile String announcedSha256;
    /** Stop the body after this many bytes by dropping the connection (-1: send everything). */
    volatile long breakAfter = -1;
    /** Send only this many bytes, with a matching Content-Length, while X-Linked-Size says more (-1: off). */
    volatile long shortBody = -1;

    LocalHub(String repo, String file, byte[] content) throws IOException {
        this.path = "/" + repo + "/resolve/main/" + file;
        this.content = content;
        this.announcedSha256 = sha256(content);
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    List<Request> requests() {
        return requests;
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private void handle(HttpExchange exchange) throws IOException {
        String requested = exchange.getRequestURI().getPath();
        requests.add(new Request(requested, exchange.getRequestHeaders().getFirst("Range")));
        try (exchange) {
            if (requested.equals(path)) {
                exchange.getResponseHeaders().add("Location", "/cdn/blob");
                exchange.getResponseHeaders().add("X-Linked-Size", Long.toString(content.length));
                exchange.getResponseHeaders().add("X-Linked-Etag", "\"" + announcedSha256 + "\"");
                exchange.sendResponseHeaders(302, -1);
            } else if (requested.equals("/cdn/blob")) {
                sendBlob(exchange);
            } else {
                exchange.sendResponseHeaders(404, -1);
            }
        }
    }

    private void sendBlob(HttpExchange exchange) throws IOException {
        String range = exchange.getRequestHeaders().getFirst("Range");
        int from = range == null ? 0 : Integer.parseInt(range.substring("bytes=".length(), range.indexOf('-')));
        if (from >= content.length) {
            exchange.getResponseHeaders().add("Content-Range", "bytes */" + content.length);
            exchange.sendResponseHeaders(416, -1);
            return;
        }
        int end = shortBody >= 0 ? (int) Math.min(content.length, shortBody) : content.length;
        if (range != null) {
            exchange.getResponseHeaders().add("Content-Range", "bytes %d-%d/%d".formatted(from, end - 1, content.length));
        }
        exchange.sendResponseHeaders(range == null ? 200 : 206, end - from);
        OutputStream body = exchange.getResponseBody();
        if (breakAfter >= 0 && from + breakAfter < end) {
            body.write(content, from, (int) breakAfter);
            body.flush();
            // The server drops a connection whose handler fails mid-body: the client sees the stream end early.
            throw new IOException("connection broken on purpose after " + breakAfter + " bytes");
        }
        body.write(content, from, end - from);
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
