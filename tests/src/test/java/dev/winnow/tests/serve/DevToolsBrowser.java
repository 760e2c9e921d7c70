package dev.winnow.tests.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Headless Chromium driven through its DevTools protocol: JSON commands over a WebSocket (the JDK's client) to
 * one page. Enough to load a page, run script in it, and type as a user does.
 */
final class DevToolsBrowser implements AutoCloseable {
    /** Debian's package, which {@code .ci/run} installs. */
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final long START_SECONDS = 90;
    private static final long COMMAND_SECONDS = 60;

    private final Process process;
    private final WebSocket socket;
    private final AtomicInteger nextId = new AtomicInteger();
    private final Map<Integer, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();

    DevToolsBrowser(Path profile) throws IOException, InterruptedException {
        Files.createDirectories(profile);
        process = new ProcessBuilder(CHROMIUM.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--remote-debugging-port=0", "--user-data-dir=" + profile, "about:blank")
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            // Chromium writes the port it chose into the profile once it listens.
            Path portFile = profile.resolve("DevToolsActivePort");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_SECONDS);
            while (!Files.exists(portFile) || Files.readAllLines(portFile).isEmpty()) {
                if (!process.isAlive() || System.nanoTime() > deadline) {
                    throw new IOException("chromium did not open its DevTools port (alive: " + process.isAlive() + ")");
                }
                Thread.sleep(50);
            }
            int port = Integer.parseInt(Files.readAllLines(portFile).getFirst().strip());
            HttpClient http = HttpClient.newHttpClient();
            JsonNode targets = ServerHarness.JSON.readTree(http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + "/json/list")).build(), HttpResponse.BodyHandlers.ofString()).body());
            String page = null;
            for (JsonNode target : targets) {
                if (target.get("type").asText().equals("page")) {
                    page = target.get("webSocketDebuggerUrl").asText();
                }
            }
            if (page == null) {
                throw new IOException("chromium shows no page target: " + targets);
            }
            socket = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(30))
                    .buildAsync(URI.create(page), new Replies()).get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            process.destroyForcibly();
            throw e instanceof IOException io ? io : new IOException("connecting to chromium: " + e, e);
        }
    }

    /** Sends a command and waits for its result. */
    JsonNode command(String method, Map<String, Object> params) throws Exception {
        int id = nextId.incrementAndGet();
        CompletableFuture<JsonNode> reply = new CompletableFuture<>();
        pending.put(id, reply);
        ObjectNode message = ServerHarness.JSON.createObjectNode();
        message.put("id", id);
        message.put("method", method);
        message.set("params", ServerHarness.JSON.valueToTree(params));
        socket.sendText(message.toString(), true).get(COMMAND_SECONDS, TimeUnit.SECONDS);
        JsonNode answer = reply.get(COMMAND_SECONDS, TimeUnit.SECONDS);
        if (answer.has("error")) {
            throw new AssertionError(method + " failed: " + answer.get("error"));
        }
        return answer.get("result");
    }

    /** Evaluates a script expression in the page (awaiting a promise) and returns its value as JSON. */
    JsonNode evaluate(String expression) throws Exception {
        JsonNode result = command("Runtime.evaluate", Map.of("expression", expression, "returnByValue", true,
                "awaitPromise", true));
        if (result.has("exceptionDetails")) {
            throw new AssertionError("script failed: " + expression + ": " + result.get("exceptionDetails"));
        }
        return result.at("/result/value");
    }

    /** Waits, for up to {@code seconds}, until the expression is true in the page. */
    void await(String expression, long seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!evaluate(expression).asBoolean(false)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the page never showed: " + expression);
            }
            Thread.sleep(50);
        }
    }

    void navigate(String url) throws Exception {
        command("Page.navigate", Map.of("url", url));
    }

    /** Types text into the focused element, as a keyboard would (key events for each character). */
    void type(String text) throws Exception {
        for (int i = 0; i < text.length(); i++) {
            String key = String.valueOf(text.charAt(i));
            command("Input.dispatchKeyEvent", Map.of("type", "keyDown", "key", key, "text", key));
            command("Input.dispatchKeyEvent", Map.of("type", "keyUp", "key", key));
        }
    }

    /** Presses a key that types nothing (Enter: code 13). */
    void press(String key, int keyCode) throws Exception {
        for (String type : List.of("rawKeyDown", "keyUp")) {
            command("Input.dispatchKeyEvent", Map.of("type", type, "key", key, "code", key,
                    "windowsVirtualKeyCode", keyCode, "nativeVirtualKeyCode", keyCode));
        }
    }

    @Override
    public void close() throws InterruptedException {
        socket.abort();
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(20, TimeUnit.SECONDS);
        }
    }

    /** Routes each reply to the command waiting for it; events are not needed here. */
    private final class Replies implements WebSocket.Listener {
        private final StringBuilder partial = new StringBuilder();

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                try {
                    JsonNode message = ServerHarness.JSON.readTree(partial.toString());
                    CompletableFuture<JsonNode> waiting = message.has("id") ? pending.remove(message.get("id").asInt()) : null;
                    if (waiting != null) {
                        waiting.complete(message);
                    }
                } catch (IOException e) {
                    pending.values().forEach(waiting -> waiting.completeExceptionally(e));
                }
                partial.setLength(0);
            }
            webSocket.request(1);
            return null;
        }
    }
}
