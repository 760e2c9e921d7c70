package dev.winnow.tests.serve;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Requests written byte by byte on a socket, and answers read back by hand: for what real HTTP clients never
 * send (malformed heads, stalls, bodies that never come).
 */
final class RawHttp {
    /** The generous bound on any wait for the server: reaching it fails the test, nothing shorter does. */
    static final int READ_BOUND_MILLIS = 60_000;

    /** An answer: status, headers (names in lower case) and body. */
    record Reply(int status, Map<String, String> headers, String body) {
        /** Asserts an OpenAI-format error with this status, as JSON, and returns its {@code error} object. */
        JsonNode assertOpenAiError(int expectedStatus) throws IOException {
            assertEquals(expectedStatus, status, body);
            return assertOpenAiError();
        }

        JsonNode assertOpenAiError() throws IOException {
            assertTrue(status >= 400, "an error status: " + status + " " + body);
            assertTrue(headers.getOrDefault("content-type", "").startsWith("application/json"), headers.toString());
            JsonNode error = ServerHarness.JSON.readTree(body).get("error");
            assertNotNull(error, body);
            assertTrue(error.get("message").isTextual() && error.has("type") && error.has("param") && error.has("code"), body);
            assertFalse(body.contains("<"), "no markup: " + body);
            return error;
        }
    }

    private RawHttp() {
    }

    static Socket connect(int port) throws IOException {
        Socket socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(READ_BOUND_MILLIS);
        return socket;
    }

    static void send(Socket socket, String text) throws IOException {
        socket.getOutputStream().write(text.getBytes(StandardCharsets.ISO_8859_1));
        socket.getOutputStream().flush();
    }

    /** Sends a request on a new connection and reads its answer. */
    static Reply exchange(int port, String request) throws IOException {
        try (Socket socket = connect(port)) {
            send(socket, request);
            Reply reply = read(socket.getInputStream(), false);
            assertNotNull(reply, "the server closed the connection without answering " + request);
            return reply;
        }
    }

    /**
     * Reads one answer: the body by its Content-Length, or to the end of the connection when it has none (the
     * server's error answers always have one). Null when the connection ends before the first byte.
     */
    static Reply read(InputStream in, boolean head) throws IOException {
        String statusLine = line(in);
        if (statusLine == null) {
            return null;
        }
        assertTrue(statusLine.startsWith("HTTP/1.1 "), "a status line: " + statusLine);
        int status = Integer.parseInt(statusLine.substring(9, 12));
        Map<String, String> headers = new HashMap<>();
        for (String header = line(in); header != null && !header.isEmpty(); header = line(in)) {
            int colon = header.indexOf(':');
            headers.put(header.substring(0, colon).strip().toLowerCase(java.util.Locale.ROOT), header.substring(colon + 1).strip());
        }
        assertFalse(headers.containsKey("transfer-encoding"), "a chunked answer where none is expected: " + headers);
        byte[] body;
        if (head) {
            body = new byte[0];
        } else if (headers.containsKey("content-length")) {
            body = in.readNBytes(Integer.parseInt(headers.get("content-length")));
        } else {
            body = in.readAllBytes();
        }
        return new Reply(status, headers, new String(body, StandardCharsets.UTF_8));
    }

    /**
     * Waits (up to the bound) for the server to close the connection, and returns the one answer it may have
     * sent first (which must then be an OpenAI-format error), or null.
     */
    static Reply awaitClose(Socket socket) throws IOException {
        InputStream in = socket.getInputStream();
        Reply reply = read(in, false);
        if (reply != null) {
            reply.assertOpenAiError();
            assertEquals(-1, in.read(), "the connection stays open after " + reply);
        }
        return reply;
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (int b = in.read(); b != '\n'; b = in.read()) {
            if (b < 0) {
                return bytes.size() == 0 ? null : bytes.toString(StandardCharsets.ISO_8859_1);
            }
            if (b != '\r') {
                bytes.write(b);
            }
        }
        return bytes.toString(StandardCharsets.ISO_8859_1);
    }
}
