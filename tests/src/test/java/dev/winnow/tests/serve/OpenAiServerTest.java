package dev.winnow.tests.serve;

import com.fasterxml.jackson.databind.JsonNode;
import dev.winnow.engine.model.Model;
import dev.winnow.tests.SharedFiles;
import dev.winnow.tests.cli.CliRunner;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static dev.winnow.tests.serve.ServerHarness.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The OpenAI-compatible server on stories260K, started in-process on an ephemeral loopback port and driven with
 * the JDK's HTTP client (and a raw socket where a client must vanish): response shapes, streaming, parameters,
 * errors, cancellation and agreement with {@code winnow generate}.
 */
class OpenAiServerTest {
    private static final String PROMPT = "Once upon a time";
    /** Room for a long answer: the heartbeat test needs one that cannot end before the heartbeat is due. */
    private static final int CONTEXT = 32768;
    private static Path modelPath;
    private static Model model;
    private static ServerHarness harness;

    @BeforeAll
    static void start() throws IOException {
        modelPath = SharedFiles.requireShared("models/stories260K.gguf");
        model = Model.load(modelPath);
        harness = new ServerHarness(model, 4, 8, CONTEXT, 64 * 1024);
    }

    @AfterAll
    static void stop() {
        ServerHarness.close(harness, model);
    }

    @Test
    void nonStreamingChatAndCompletionHaveOpenAiShapesAndUsage() throws Exception {
        HttpResponse<String> chat = harness.post("/v1/chat/completions", json("model", "anything",
                "messages", List.of(Map.of("role", "user", "content", PROMPT)), "max_tokens", 20, "temperature", 0));
        assertEquals(200, chat.statusCode(), chat.body());
        assertTrue(chat.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        JsonNode body = ServerHarness.JSON.readTree(chat.body());
        assertEquals("chat.completion", body.get("object").asText());
        assertTrue(body.get("id").asText().startsWith("chatcmpl-"));
        assertEquals("test-model", body.get("model").asText());
        JsonNode choice = body.get("choices").get(0);
        assertEquals("assistant", choice.at("/message/role").asText());
        assertFalse(choice.at("/message/content").asText().isEmpty());
        assertEquals("length", choice.get("finish_reason").asText());
        int promptTokens = model.tokenizer().encode(PROMPT, true, true).length;
        assertEquals(promptTokens, body.at("/usage/prompt_tokens").asInt());
        assertEquals(20, body.at("/usage/completion_tokens").asInt());
        assertEquals(promptTokens + 20, body.at("/usage/total_tokens").asInt());

        HttpResponse<String> completion = harness.post("/v1/completions", json("prompt", PROMPT, "temperature", 0));
        JsonNode text = ServerHarness.JSON.readTree(completion.body());
        assertEquals("text_completion", text.get("object").asText());
        assertEquals(16, text.at("/usage/completion_tokens").asInt(), "OpenAI's default max_tokens for completions");
        assertTrue(choice.at("/message/content").asText().startsWith(text.at("/choices/0/text").asText()),
                "a plain-template chat is a completion of the same text");
    }

    @Test
    void streamsCarryTheSameTextAsWholeAnswersAndEndWithUsageAndDone() throws Exception {
        for (String path : List.of("/v1/chat/completions", "/v1/completions")) {
            boolean chat = path.contains("chat");
            Object input = chat ? List.of(Map.of("role", "user", "content", PROMPT)) : PROMPT;
            String inputKey = chat ? "messages" : "prompt";
            String whole = content(ServerHarness.JSON.readTree(harness.post(path,
                    json(inputKey, input, "max_tokens", 40, "temperature", 0)).body()).at("/choices/0"), chat);
            List<JsonNode> events = harness.stream(path, json(inputKey, input, "max_tokens", 40, "temperature", 0,
                    "stream", true, "stream_options", Map.of("include_usage", true)));
            StringBuilder streamed = new StringBuilder();
            for (JsonNode event : events.subList(0, events.size() - 2)) {
                assertEquals(chat ? "chat.completion.chunk" : "text_completion", event.get("object").asText());
                assertTrue(event.get("finish_reason") == null && event.at("/choices/0/finish_reason").isNull(), event.toString());
                assertTrue(event.get("usage").isNull());
                streamed.append(content(event.at("/choices/0"), chat));
            }
            if (chat) {
                assertEquals("assistant", events.getFirst().at("/choices/0/delta/role").asText());
            }
            assertEquals(whole, streamed.toString(), path);
            JsonNode last = events.get(events.size() - 2);
            assertEquals("length", last.at("/choices/0/finish_reason").asText());
            JsonNode usage = events.getLast();
            assertTrue(usage.get("choices").isEmpty());
            assertEquals(40, usage.at("/usage/completion_tokens").asInt());
            // Without include_usage there is no usage chunk.
            List<JsonNode> plain = harness.stream(path, json(inputKey, input, "max_tokens", 5, "stream", true));
            assertEquals("length", plain.getLast().at("/choices/0/finish_reason").asText());
            assertTrue(plain.getLast().get("usage") == null);
        }
    }

    @Test
    void greedyCompletionEqualsGenerateCommandOutput() throws Exception {
        CliRunner.Run run = CliRunner.run("generate", "-m", modelPath.toString(), "-p", PROMPT, "-n", "120",
                "--temperature", "0", "--threads", "1");
        assertEquals(0, run.exitCode(), run.err());
        JsonNode response = ServerHarness.JSON.readTree(harness.post("/v1/completions",
                json("prompt", PROMPT, "max_tokens", 120, "temperature", 0, "echo", true)).body());
        assertEquals(run.out().substring(0, run.out().length() - System.lineSeparator().length()),
                response.at("/choices/0/text").asText());
        // The same prompt as token ids gives the same completion.
        int[] ids = model.tokenizer().encode(PROMPT, true, true);
        JsonNode byIds = ServerHarness.JSON.readTree(harness.post("/v1/completions",
                json("prompt", ids, "max_tokens", 120, "temperature", 0)).body());
        assertEquals(response.at("/choices/0/text").asText(), PROMPT + byIds.at("/choices/0/text").asText());
    }

    @Test
    void aSeedRepeatsTheSampleWhateverRunsAlongside() throws Exception {
        String seeded = json("prompt", PROMPT, "max_tokens", 60, "temperature", 1.0, "seed", 42);
        String alone = text(harness.post("/v1/completions", seeded));
        List<CompletableFuture<HttpResponse<String>>> crowd = List.of(
                send(json("prompt", "Tom and Lily", "max_tokens", 80, "temperature", 1.0)),
                send(seeded),
                send(json("prompt", "The cat", "max_tokens", 70, "temperature", 0.7, "seed", 7)));
        assertEquals(alone, text(crowd.get(1).join()));
        for (CompletableFuture<HttpResponse<String>> other : crowd) {
            assertEquals(200, other.join().statusCode());
        }
        String otherSeed = text(harness.post("/v1/completions", json("prompt", PROMPT, "max_tokens", 60,
                "temperature", 1.0, "seed", 43)));
        assertNotEquals(alone, otherSeed, "a different seed draws a different story");
    }

    @Test
    void samplingParametersAreHonoured() throws Exception {
        String greedy = text(harness.post("/v1/completions", json("prompt", PROMPT, "max_tokens", 30, "temperature", 0)));
        // Each of these leaves only the most likely token, whatever the temperature.
        for (Map.Entry<String, Object> narrowing : Map.<String, Object>of("top_k", 1, "top_p", 0, "min_p", 1).entrySet()) {
            assertEquals(greedy, text(harness.post("/v1/completions", json("prompt", PROMPT, "max_tokens", 30,
                    "temperature", 1.5, narrowing.getKey(), narrowing.getValue()))), narrowing.getKey());
        }
        // A +100 logit bias makes one token certain; -100 forbids the greedy first token.
        int forced = model.tokenizer().encode(" cat", false, false)[0];
        String biased = text(harness.post("/v1/completions", json("prompt", PROMPT, "max_tokens", 6, "temperature", 0,
                "logit_bias", Map.of(Integer.toString(forced), 100))));
        assertEquals(model.tokenizer().decode(new int[] {forced, forced, forced, forced, forced, forced}).strip(), biased.strip());
        int firstGreedy = model.tokenizer().encode(PROMPT + greedy, true, true)[model.tokenizer().encode(PROMPT, true, true).length];
        String banned = text(harness.post("/v1/completions", json("prompt", PROMPT, "max_tokens", 30, "temperature", 0,
                "logit_bias", Map.of(Integer.toString(firstGreedy), -100))));
        assertNotEquals(greedy.substring(0, 1), banned.substring(0, 1));
        // A frequency penalty changes a greedy story that repeats words.
        String penalised = text(harness.post("/v1/completions", json("prompt", PROMPT, "max_tokens", 30, "temperature", 0,
                "frequency_penalty", 2.0, "presence_penalty", 1.0)));
        assertNotEquals(greedy, penalised);
        // Stop strings cut the text before them and finish with "stop".
        String stop = greedy.substring(10, 14);
        JsonNode stopped = ServerHarness.JSON.readTree(harness.post("/v1/completions", json("prompt", PROMPT,
                "max_tokens", 30, "temperature", 0, "stop", List.of("zzzz", stop))).body());
        assertEquals(greedy.substring(0, greedy.indexOf(stop)), stopped.at("/choices/0/text").asText());
        assertEquals("stop", stopped.at("/choices/0/finish_reason").asText());
        JsonNode single = ServerHarness.JSON.readTree(harness.post("/v1/chat/completions", json("messages",
                List.of(Map.of("role", "user", "content", List.of(Map.of("type", "text", "text", PROMPT)))),
                "max_completion_tokens", 30, "temperature", 0, "stop", stop)).body());
        assertEquals(greedy.substring(0, greedy.indexOf(stop)), single.at("/choices/0/message/content").asText());
    }

    @Test
    void badRequestsGetOpenAiErrorsNamingTheParameter() throws Exception {
        String chat = "/v1/chat/completions";
        List<Object> user = List.of(Map.of("role", "user", "content", "Hi"));
        assertError(harness.post(chat, json("messages", user, "temperature", 2.5)), 400, "temperature");
        assertError(harness.post(chat, json("messages", user, "n", 2)), 400, "n");
        assertError(harness.post(chat, json("messages", user, "logprobs", true)), 400, "logprobs");
        assertError(harness.post(chat, json("messages", user, "tools", List.of(Map.of("type", "function")))), 400, "tools");
        assertError(harness.post(chat, json("messages", user, "mystery", 1)), 400, "mystery");
        assertError(harness.post(chat, json("messages", user, "stop", List.of(3))), 400, "stop");
        assertError(harness.post(chat, json("messages", user, "stream_options", Map.of("include_usage", true))), 400, "stream_options");
        assertError(harness.post(chat, json("messages", List.of())), 400, "messages");
        assertError(harness.post(chat, json("messages", List.of(Map.of("role", "tool", "content", "x")))), 400, "messages[0].role");
        assertError(harness.post(chat, json("messages", user, "max_tokens", 0)), 400, "max_tokens");
        assertError(harness.post(chat, json("messages", user, "logit_bias", Map.of("99999", 1))), 400, "logit_bias");
        assertError(harness.post("/v1/completions", json("prompt", List.of("a", "b"))), 400, "prompt");
        assertError(harness.post("/v1/completions", json("prompt", List.of(1, 512))), 400, "prompt");
        assertError(harness.post("/v1/completions", json("prompt", PROMPT, "suffix", "end")), 400, "suffix");
        HttpResponse<String> tooLong = harness.post("/v1/completions", json("prompt", PROMPT, "max_tokens", CONTEXT));
        assertError(tooLong, 400, "prompt");
        assertTrue(tooLong.body().contains("context_length_exceeded"), tooLong.body());
        HttpResponse<String> malformed = harness.post(chat, "{\"messages\": [");
        assertError(malformed, 400, null);
        assertFalse(malformed.body().contains("Source"), malformed.body());
        assertError(harness.post(chat, "[1, 2]"), 400, null);
        HttpResponse<String> huge = harness.post("/v1/completions", json("prompt", "x".repeat(70 * 1024)));
        assertError(huge, 400, null);
        assertTrue(huge.body().contains("request_too_large"), huge.body());
    }

    @Test
    void keysPathsAndMethodsAreCheckedWithJsonAnswers() throws Exception {
        HttpResponse<String> noKey = harness.client.send(HttpRequest.newBuilder(java.net.URI.create(harness.base + "/v1/models"))
                .GET().build(), HttpResponse.BodyHandlers.ofString());
        assertError(noKey, 401, null);
        assertTrue(noKey.body().contains("invalid_api_key"));
        HttpResponse<String> wrongKey = harness.client.send(HttpRequest.newBuilder(java.net.URI.create(harness.base + "/v1/chat/completions"))
                .header("Authorization", "Bearer nope").POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertError(wrongKey, 401, null);
        HttpResponse<String> health = harness.client.send(HttpRequest.newBuilder(java.net.URI.create(harness.base + "/health"))
                .GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, health.statusCode(), "health needs no key");
        assertEquals("ok", ServerHarness.JSON.readTree(health.body()).get("status").asText());
        HttpResponse<String> head = harness.client.send(harness.request("/health").method("HEAD",
                HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, head.statusCode());
        assertEquals("", head.body());
        assertError(harness.get("/v1/engines"), 404, null);
        assertError(harness.get("/index.html"), 404, null);
        assertError(harness.get("/v1/chat/completions"), 405, null);
        assertError(harness.post("/v1/models", "{}"), 405, null);
        JsonNode models = ServerHarness.JSON.readTree(harness.get("/v1/models").body());
        assertEquals("list", models.get("object").asText());
        assertEquals("test-model", models.at("/data/0/id").asText());
        assertEquals(200, harness.get("/v1/models/test-model").statusCode());
        assertEquals(200, harness.get("/v1/models/test%2Dmodel").statusCode(), "the path is percent-decoded");
        assertError(harness.get("/v1/models/gpt-4"), 404, "model");
        HttpResponse<String> metrics = harness.get("/metrics");
        assertTrue(metrics.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"));
        assertTrue(metrics.body().contains("winnow_requests_total{endpoint=\"other\",status=\"404\"}"), metrics.body());
        for (String name : List.of("winnow_queue_depth", "winnow_active_sequences", "winnow_kv_pages_in_use",
                "winnow_kv_bytes_in_use", "winnow_kv_pruned_fraction", "winnow_prompt_tokens_total",
                "winnow_generated_tokens_total")) {
            assertTrue(metrics.body().contains("\n" + name + " "), name);
        }
    }

    @Test
    void aStreamingClientThatLeavesIsCancelledAndItsPagesFreed() throws Exception {
        double cancelledBefore = harness.metric("winnow_sequences_finished_total{reason=\"cancelled\"}");
        harness.awaitMetric("winnow_kv_pages_in_use", pages -> pages == 0);
        try (Socket socket = new Socket("127.0.0.1", harness.server.port())) {
            sendRaw(socket, json("prompt", PROMPT, "max_tokens", 2000, "ignore_eos", true, "stream", true));
            String start = readUntil(socket.getInputStream(), "data: ");
            assertTrue(start.startsWith("HTTP/1.1 200"), start);
            harness.awaitMetric("winnow_kv_pages_in_use", pages -> pages > 0);
            // The response named its sequence; /sequences and /metrics show what its cache holds.
            java.util.regex.Matcher named = java.util.regex.Pattern.compile("(?i)X-Winnow-Sequence: (\\d+)").matcher(start);
            assertTrue(named.find(), start);
            String id = named.group(1);
            harness.awaitMetric("winnow_sequence_kv_bytes{sequence=\"" + id + "\"}", bytes -> bytes > 0);
            JsonNode sequences = ServerHarness.JSON.readTree(harness.get("/sequences").body());
            JsonNode mine = null;
            for (JsonNode sequence : sequences.get("sequences")) {
                mine = sequence.get("id").asText().equals(id) ? sequence : mine;
            }
            assertTrue(mine != null && mine.get("kv_bytes").asLong() > 0, sequences.toString());
            assertEquals(model.config().layers(), mine.get("kept_tokens_per_layer").size());
            assertEquals(mine.get("position").asInt(), mine.get("kept_tokens_per_layer").get(0).asInt(), "no pruning");
            assertEquals(0.0, mine.get("pruned_fraction").asDouble());
            assertEquals("none", sequences.get("pruning").asText());
        }
        harness.awaitMetric("winnow_sequences_finished_total{reason=\"cancelled\"}", n -> n == cancelledBefore + 1);
        harness.awaitMetric("winnow_kv_pages_in_use", pages -> pages == 0);
        harness.awaitMetric("winnow_active_sequences", active -> active == 0);
    }

    @Test
    void aNonStreamingClientThatLeavesIsNoticedByTheHeartbeat() throws Exception {
        double cancelledBefore = harness.metric("winnow_sequences_finished_total{reason=\"cancelled\"}");
        try (Socket socket = new Socket("127.0.0.1", harness.server.port())) {
            // 30,000 tokens take stories260K several seconds at any speed this machine reaches, far more than the
            // one second after which the heartbeat finds the client gone.
            sendRaw(socket, json("prompt", PROMPT, "max_tokens", 30_000, "ignore_eos", true));
            harness.awaitMetric("winnow_active_sequences", active -> active > 0);
        }
        harness.awaitMetric("winnow_sequences_finished_total{reason=\"cancelled\"}", n -> n == cancelledBefore + 1);
        harness.awaitMetric("winnow_kv_pages_in_use", pages -> pages == 0);
    }

    private static void sendRaw(Socket socket, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        OutputStream out = socket.getOutputStream();
        out.write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + ServerHarness.KEY
                + "\r\nContent-Type: application/json\r\nContent-Length: " + bytes.length + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        out.write(bytes);
        out.flush();
    }

    private static String readUntil(InputStream in, String marker) throws IOException {
        StringBuilder seen = new StringBuilder();
        while (seen.indexOf(marker) < 0) {
            int b = in.read();
            if (b < 0) {
                throw new AssertionError("the connection closed before '" + marker + "': " + seen);
            }
            seen.append((char) b);
        }
        return seen.toString();
    }

    private static CompletableFuture<HttpResponse<String>> send(String body) {
        return harness.client.sendAsync(harness.request("/v1/completions").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static String text(HttpResponse<String> response) throws IOException {
        assertEquals(200, response.statusCode(), response.body());
        return ServerHarness.JSON.readTree(response.body()).at("/choices/0/text").asText();
    }

    private static String content(JsonNode choice, boolean chat) {
        return chat ? choice.has("message") ? choice.at("/message/content").asText() : choice.at("/delta/content").asText("")
                : choice.get("text").asText();
    }

    static void assertError(HttpResponse<String> response, int status, String param) throws IOException {
        assertEquals(status, response.statusCode(), response.body());
        assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        JsonNode error = ServerHarness.JSON.readTree(response.body()).get("error");
        assertTrue(error != null && error.get("message").isTextual() && error.has("type") && error.has("param")
                && error.has("code"), response.body());
        assertFalse(response.body().contains("\tat "), "no stack trace");
        if (param != null) {
            assertEquals(param, error.get("param").asText(), response.body());
        }
    }
}
