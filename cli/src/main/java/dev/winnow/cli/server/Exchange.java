package dev.winnow.cli.server;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Blocker;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;

/**
 * One request and its answer, read and written with blocking calls: handlers run on virtual threads, so a
 * blocked read or write parks only the request's own thread. Every write goes to the socket at once (a token of
 * a stream, or a heartbeat, must reach the client when it is written, and a failed write is how a client that
 * left is noticed).
 */
final class Exchange {
    /**
     * A refused body up to this size is still read to its end: a client sends its whole body before it reads the
     * answer, and a connection closed on bytes the server never read is reset, losing the answer with it.
     */
    private static final long DRAIN_LIMIT_BYTES = 64L << 20;

    private final Request request;
    private final Response response;
    private boolean begun;
    private InputStream body;
    private boolean bodyRead;
    private int tokensIn = -1;
    private int tokensOut = -1;

    Exchange(Request request, Response response) {
        this.request = request;
        this.response = response;
    }

    /** When the request's first byte arrived, on {@link System#nanoTime}'s clock. */
    long beginNanos() {
        return request.getBeginNanoTime();
    }

    String method() {
        return request.getMethod();
    }

    /** The path, percent-decoded (Jetty refuses encodings that would make it ambiguous, such as %2F). */
    String path() {
        return request.getHttpURI().getDecodedPath();
    }

    /** The first value of a request header, or null. */
    String header(String name) {
        return request.getHeaders().get(name);
    }

    void setHeader(String name, String value) {
        response.getHeaders().put(name, value);
    }

    /** Records the tokens this request read and produced, for the request log (-1: not known). */
    void countTokens(int in, int out) {
        tokensIn = in;
        tokensOut = out;
    }

    int tokensIn() {
        return tokensIn;
    }

    int tokensOut() {
        return tokensOut;
    }

    /** Tells Jetty's error handler, should it answer this request after a failure, that it is counted already. */
    void markCounted() {
        request.setAttribute(JsonErrorHandler.COUNTED, Boolean.TRUE);
    }

    /** Whether the status has been chosen; it is sent with the first write. */
    boolean begun() {
        return begun;
    }

    /** The status chosen by {@link #begin}, or -1 before it. */
    int status() {
        return begun ? response.getStatus() : -1;
    }

    /**
     * Sets the status and the body's length: {@code length} bytes follow, or with -1 an unknown number, sent as
     * chunks until the exchange ends.
     */
    void begin(int status, long length) {
        if (hasBody() && !bodyRead) {
            // The unread rest of the body cannot be told from the next request, so the connection ends with this
            // answer, and says so: a client that is not told reuses the connection and finds it closed.
            response.getHeaders().put(HttpHeader.CONNECTION, "close");
        }
        response.setStatus(status);
        if (length >= 0) {
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, length);
        }
        begun = true;
    }

    /** Writes bytes of the body (none for HEAD), sending the status and headers first if they are not yet out. */
    void write(byte[] bytes) throws IOException {
        send(false, bytes);
    }

    /** Writes the last bytes of the body; the exchange is complete after it. */
    void end(byte[] bytes) throws IOException {
        send(true, bytes);
    }

    /**
     * Reads the request body, or its first {@code limit + 1} bytes when it is longer. A read that waits longer
     * than the body timeout fails with an IOException.
     */
    byte[] readBody(int limit) throws IOException {
        byte[] bytes = bodyStream().readNBytes(limit + 1);
        bodyRead = bytes.length <= limit;
        return bytes;
    }

    /**
     * Reads and drops the rest of a body that is refused, unless it is declared longer than is worth reading
     * (then the connection ends with the answer).
     */
    void discardBody() throws IOException {
        if (request.getHeaders().getLongField(HttpHeader.CONTENT_LENGTH) > DRAIN_LIMIT_BYTES) {
            return;
        }
        InputStream in = bodyStream();
        byte[] buffer = new byte[64 * 1024];
        for (long dropped = 0; dropped <= DRAIN_LIMIT_BYTES; ) {
            int read = in.read(buffer);
            if (read < 0) {
                bodyRead = true;
                return;
            }
            dropped += read;
        }
    }

    private InputStream bodyStream() {
        if (body == null) {
            body = Content.Source.asInputStream(request);
        }
        return body;
    }

    private boolean hasBody() {
        return request.getHeaders().contains(HttpHeader.TRANSFER_ENCODING)
                || request.getHeaders().getLongField(HttpHeader.CONTENT_LENGTH) > 0;
    }

    private void send(boolean last, byte[] bytes) throws IOException {
        ByteBuffer content = method().equals("HEAD") ? ByteBuffer.allocate(0) : ByteBuffer.wrap(bytes);
        try (Blocker.Callback written = Blocker.callback()) {
            response.write(last, content, written);
            written.block();
        }
    }
}
