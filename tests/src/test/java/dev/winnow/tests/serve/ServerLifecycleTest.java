package dev.winnow.tests.serve;

import com.fasterxml.jackson.databind.JsonNode;
import dev.winnow.engine.model.Model;
import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static dev.winnow.tests.serve.ServerHarness.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Admission and shutdown over HTTP on stories260K: a full queue answers 429 with Retry-After, a graceful stop lets
 * running streams finish and then closes the listener, and a stop without grace ends streams with an error event
 * and queued requests with 503.
 */
class ServerLifecycleTest {
    private static final String PROMPT = "Once upon a time";
    private static Model model;

    @BeforeAll
    static void load() throws IOException {
        model = Model.load(SharedFiles.requireShared("models/stories260K.gguf"));
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    @Test
    void aFullQueueAnswers429WithRetryAfterAndTheQueuedRequestStillRuns() throws Exception {
        try (ServerHarness harness = new ServerHarness(model, 1, 1, 2048, 1 << 20);
             Socket running = new Socket("127.0.0.1", harness.server.port())) {
            startRawStream(running, json("prompt", PROMPT, "max_tokens", 2000, "ignore_eos", true, "stream", true));
            CompletableFuture<HttpResponse<String>> queued = harness.client.sendAsync(harness.request("/v1/completions")
                    .POST(HttpRequest.BodyPublishers.ofString(json("prompt", PROMPT, "max_tokens", 5))).build(),
                    HttpResponse.BodyHandlers.ofString());
            harness.awaitMetric("winnow_queue_depth", depth -> depth == 1);
            HttpResponse<String> refused = harness.post("/v1/completions", json("prompt", PROMPT, "max_tokens", 5));
            OpenAiServerTest.assertError(refused, 429, null);
            assertEquals("1", refused.headers().firstValue("Retry-After").orElse(""));
            assertTrue(refused.body().contains("queue_full"), refused.body());
            running.close();
            HttpResponse<String> served = queued.get();
            assertEquals(200, served.statusCode(), served.body());
            assertEquals(5, ServerHarness.JSON.readTree(served.body()).at("/usage/completion_tokens").asInt());
            assertEquals(1, harness.metric("winnow_requests_total{endpoint=\"/v1/completions\",status=\"429\"}"));
            harness.awaitMetric("winnow_kv_pages_in_use", pages -> pages == 0);
        }
    }

    @Test
    void aGracefulStopLetsRunningStreamsFinishThenClosesTheListener() throws Exception {
        ServerHarness harness = new ServerHarness(model, 2, 4, 2048, 1 << 20);
        try {
            CompletableFuture<List<JsonNode>> stream = CompletableFuture.supplyAsync(() -> {
                try {
                    return harness.stream("/v1/completions", json("prompt", PROMPT, "max_tokens", 1500,
                            "ignore_eos", true, "stream", true, "stream_options", java.util.Map.of("include_usage", true)));
                } catch (IOException | InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            harness.awaitMetric("winnow_generated_tokens_total", tokens -> tokens > 0);
            // A bound, not a wait: stop returns as soon as the stream has finished (seconds, or minutes under load).
            harness.server.stop(Duration.ofSeconds(600));
            List<JsonNode> events = stream.get();
            assertEquals("length", events.get(events.size() - 2).at("/choices/0/finish_reason").asText());
            assertEquals(1500, events.getLast().at("/usage/completion_tokens").asInt());
            assertThrows(ConnectException.class, () -> new Socket("127.0.0.1", harness.server.port()).close());
        } finally {
            harness.close();
        }
    }

    @Test
    void aStopWithoutGraceEndsStreamsWithAnErrorAndQueuedRequestsWith503() throws Exception {
        ServerHarness harness = new ServerHarness(model, 1, 4, 2048, 1 << 20);
        try (Socket running = new Socket("127.0.0.1", harness.server.port())) {
            startRawStream(running, json("prompt", PROMPT, "max_tokens", 2000, "ignore_eos", true, "stream", true));
            CompletableFuture<HttpResponse<String>> queued = harness.client.sendAsync(harness.request("/v1/completions")
                    .POST(HttpRequest.BodyPublishers.ofString(json("prompt", PROMPT, "max_tokens", 5))).build(),
                    HttpResponse.BodyHandlers.ofString());
            harness.awaitMetric("winnow_queue_depth", depth -> depth == 1);
            harness.server.stop(Duration.ZERO);
            OpenAiServerTest.assertError(queued.get(), 503, null);
            assertTrue(queued.get().body().contains("shutting_down"));
            String rest = new String(running.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(rest.contains("\"code\":\"shutting_down\""), rest);
            assertTrue(rest.contains("data: [DONE]"), rest);
        } finally {
            harness.close();
        }
    }

    /** Sends a streaming completion on a raw connection and waits for its first event. */
    private static void startRawStream(Socket socket, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        OutputStream out = socket.getOutputStream();
        out.write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + ServerHarness.KEY
                + "\r\nContent-Length: " + bytes.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(bytes);
        out.flush();
        InputStream in = socket.getInputStream();
        StringBuilder seen = new StringBuilder();
        while (seen.indexOf("data: ") < 0) {
            int b = in.read();
            if (b < 0) {
                throw new AssertionError("the connection closed before the first event: " + seen);
            }
            seen.append((char) b);
        }
        assertTrue(seen.toString().startsWith("HTTP/1.1 200"), seen.toString());
    }
}
