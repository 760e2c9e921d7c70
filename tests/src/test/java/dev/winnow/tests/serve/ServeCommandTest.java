package dev.winnow.tests.serve;

import dev.winnow.tests.SharedFiles;
import dev.winnow.tests.cli.CliRunner;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code winnow serve} on the command line: bad settings end with one clear line before anything listens, and
 * the real launcher serves a request and shuts down gracefully on SIGTERM, exiting 0.
 */
class ServeCommandTest {

    @Test
    void badSettingsEndWithOneClearLine() throws Exception {
        String model = SharedFiles.requireShared("models/stories260K.gguf").toString();
        assertFails("--parallel must be 1 to 256, got 0", "serve", "-m", model, "--parallel", "0", "--port", "0");
        assertFails("--queue must be at least 1", "serve", "-m", model, "--queue", "0", "--port", "0");
        assertFails("--port must be 0 to 65535", "serve", "-m", model, "--port", "70000");
        assertFails("Unknown option: '--stats'", "serve", "-m", model, "--stats", "--port", "0");
        assertFails("--header-timeout must be at least 1 second, got 0", "serve", "-m", model, "--header-timeout", "0", "--port", "0");
        assertFails("--body-timeout must be at least 2 seconds, got 1", "serve", "-m", model, "--body-timeout", "1", "--port", "0");
        assertFails("--max-connections must be at least 1, got 0", "serve", "-m", model, "--max-connections", "0", "--port", "0");
        assertFails("fewer than one per layer", "serve", "-m", model, "--kv-budget", "1KiB", "--port", "0");
        assertFails("--prune dcp needs a pruning module", "serve", "-m", model, "--prune", "dcp", "--port", "0");
        assertFails("file not found", "serve", "-m", "/no/such/model.gguf");
        assertFails("cannot listen on nohost.invalid:0", "serve", "-m", model, "--host", "nohost.invalid", "--port", "0");
        try (ServerSocket taken = new ServerSocket(0)) {
            assertFails("cannot listen on 127.0.0.1:" + taken.getLocalPort(), "serve", "-m", model, "--port",
                    Integer.toString(taken.getLocalPort()));
        }
    }

    @Test
    void theLauncherServesAndStopsGracefullyOnSigterm() throws Exception {
        Path root = Path.of(System.getProperty("user.dir")).toAbsolutePath().getParent();
        Path jar = root.resolve("cli/target/winnow.jar");
        if (!Files.isRegularFile(jar)) {
            System.err.println("skipped: " + jar + " is not built (run ./mvnw verify, not ./mvnw test)");
        }
        assumeTrue(Files.isRegularFile(jar), jar + " is not built (run ./mvnw verify)");
        String model = SharedFiles.requireShared("models/stories260K.gguf").toString();
        ProcessBuilder builder = new ProcessBuilder(root.resolve("bin/winnow").toString(), "serve", "-m", model,
                "--port", "0", "--threads", "1", "--model-id", "stories");
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        builder.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        Process process = builder.start();
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread.ofVirtual().start(() -> {
            try (BufferedReader err = new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8))) {
                for (String line = err.readLine(); line != null; line = err.readLine()) {
                    lines.add(line);
                }
            } catch (IOException ignored) {
                // the process ended
            }
        });
        try {
            StringBuilder log = new StringBuilder();
            Matcher serving = null;
            while (serving == null) {
                String line = lines.poll(60, TimeUnit.SECONDS);
                assertNotNull(line, "no 'serving' line within 60 s; stderr so far:\n" + log);
                log.append(line).append('\n');
                Matcher m = Pattern.compile("serving stories on http://127\\.0\\.0\\.1:(\\d+)/v1").matcher(line);
                serving = m.find() ? m : null;
            }
            HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + serving.group(1) + "/v1/chat/completions"))
                    .timeout(Duration.ofSeconds(60))
                    .POST(HttpRequest.BodyPublishers.ofString(
                            "{\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],\"max_tokens\":8}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, response.statusCode(), response.body());
            assertTrue(response.body().contains("\"completion_tokens\":8"), response.body());
            // The request's line in the log: method, path, status, tokens read/produced, milliseconds.
            String logged = lines.poll(60, TimeUnit.SECONDS);
            assertNotNull(logged, "no request log line");
            assertTrue(logged.matches("winnow serve: POST /v1/chat/completions 200 tokens \\d+/8 \\d+ ms"), logged);
            process.toHandle().destroy(); // SIGTERM; Process.destroy() would also close the stream we read
            assertTrue(process.waitFor(30, TimeUnit.SECONDS), "the server did not stop within 30 s of SIGTERM");
            String shutdown = lines.poll(10, TimeUnit.SECONDS);
            assertNotNull(shutdown, "nothing on stderr after SIGTERM");
            assertTrue(shutdown.contains("shutting down"), shutdown);
            assertEquals(0, process.exitValue(), "a shutdown asked for and carried out is a success, not 128 + SIGTERM");
        } finally {
            process.destroyForcibly();
        }
    }

    private static void assertFails(String message, String... args) {
        CliRunner.Run run = CliRunner.run(args);
        assertTrue(run.exitCode() == 1 || run.exitCode() == 2, "exit " + run.exitCode() + ": " + run.err());
        assertTrue(run.err().contains(message), "expected '%s' in: %s".formatted(message, run.err()));
        assertEquals(1, run.err().strip().lines().filter(line -> line.startsWith("winnow:") && !line.contains("loaded")).count(),
                run.err());
    }
}
