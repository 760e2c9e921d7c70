package dev.winnow.tests.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.winnow.cli.server.ConnectionLimits;
import dev.winnow.cli.server.OpenAiServer;
import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.serve.SchedulerConfig;
import dev.winnow.tests.SharedFiles;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/** A server on an ephemeral loopback port, in this JVM, and a real HTTP client talking to it. */
final class ServerHarness implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String KEY = "test-key";

    /** The request log's line shape; other log lines (failures) are also printed. */
    private static final Pattern REQUEST_LINE = Pattern.compile("winnow serve: \\S+ \\S+ \\d{3} tokens \\S+ \\d+ ms");

    /** Every line the server logged. */
    final List<String> log = Collections.synchronizedList(new ArrayList<>());
    final OpenAiServer server;
    final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    final String base;

    ServerHarness(Model model, int parallel, int queue, int context, int maxRequestBytes) throws IOException {
        this(model, parallel, queue, context, maxRequestBytes, 2);
    }

    ServerHarness(Model model, int parallel, int queue, int context, int maxRequestBytes, int threads) throws IOException {
        this(model, new SchedulerConfig(parallel, queue, context, KvCacheConfig.defaults(), new PruningPolicy.None(),
                threads), maxRequestBytes, ConnectionLimits.DEFAULTS);
    }

    ServerHarness(Model model, SchedulerConfig config, int maxRequestBytes, ConnectionLimits limits) throws IOException {
        server = OpenAiServer.start(model, config,
                new OpenAiServer.Settings("127.0.0.1", 0, KEY, maxRequestBytes, "test-model", limits), line -> {
                    log.add(line);
                    if (!REQUEST_LINE.matcher(line).matches()) {
                        System.err.println(line);
                    }
                });
        base = "http://127.0.0.1:" + server.port();
    }

    HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
        return client.send(request(path).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return client.send(request(path).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60))
                .header("Authorization", "Bearer " + KEY).header("Content-Type", "application/json");
    }

    /** The JSON payloads of a server-sent event stream, up to and without {@code [DONE]}, which must end it. */
    List<JsonNode> stream(String path, String body) throws IOException, InterruptedException {
        HttpResponse<java.io.InputStream> response = client.send(
                request(path).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        if (response.statusCode() != 200) {
            throw new AssertionError("status " + response.statusCode() + ": " + new String(response.body().readAllBytes(), StandardCharsets.UTF_8));
        }
        if (!response.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream")) {
            throw new AssertionError("not an event stream: " + response.headers());
        }
        List<JsonNode> events = new ArrayList<>();
        boolean done = false;
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                if (line.isEmpty() || line.startsWith(":")) {
                    continue;
                }
                if (done) {
                    throw new AssertionError("data after [DONE]: " + line);
                }
                if (!line.startsWith("data: ")) {
                    throw new AssertionError("not an SSE data line: " + line);
                }
                String data = line.substring("data: ".length());
                if (data.equals("[DONE]")) {
                    done = true;
                } else {
                    events.add(JSON.readTree(data));
                }
            }
        }
        if (!done) {
            throw new AssertionError("the stream ended without [DONE]");
        }
        return events;
    }

    /** The value of a metric line (name with its labels, exactly as printed). */
    double metric(String nameWithLabels) throws IOException, InterruptedException {
        String text = get("/metrics").body();
        for (String line : text.split("\n")) {
            if (line.startsWith(nameWithLabels + " ")) {
                return Double.parseDouble(line.substring(nameWithLabels.length() + 1));
            }
        }
        return 0;
    }

    /** Polls /metrics until {@code condition} holds for the metric, for up to 20 seconds. */
    void awaitMetric(String nameWithLabels, Predicate<Double> condition) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        double value;
        while (!condition.test(value = metric(nameWithLabels))) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting on " + nameWithLabels + ", last value " + value);
            }
            Thread.sleep(10);
        }
    }

    static String json(Object... keyValues) {
        var node = JSON.createObjectNode();
        for (int i = 0; i < keyValues.length; i += 2) {
            node.set((String) keyValues[i], JSON.valueToTree(keyValues[i + 1]));
        }
        return node.toString();
    }

    @Override
    public void close() {
        server.stop(Duration.ZERO);
    }

    /**
     * stories260K for a jqwik container's servers, or null without the shared files (the container's
     * {@link dev.winnow.tests.SharedFiles.SkipWithoutShared} hook then skips every property, saying why).
     */
    static Model storiesOrNull() throws IOException {
        return SharedFiles.sharedDir().isEmpty() ? null : Model.load(SharedFiles.requireShared("models/stories260K.gguf"));
    }

    /** Closes a test class's server, then its model; either may be missing (the class was skipped). */
    static void close(ServerHarness harness, Model model) {
        if (harness != null) {
            harness.close();
        }
        if (model != null) {
            model.close();
        }
    }
}
