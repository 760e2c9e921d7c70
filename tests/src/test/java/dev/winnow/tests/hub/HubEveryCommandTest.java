package dev.winnow.tests.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import dev.winnow.tests.SharedFiles;
import dev.winnow.tests.cli.CliRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --hf REPO:FILE} works with every command that takes a model: each runs in a winnow process whose
 * environment points at a stand-in hub on 127.0.0.1 ({@link LocalHub}) and an empty cache, and does exactly what
 * it does with {@code -m} and the same file.
 */
class HubEveryCommandTest {
    private static final String REPO = "someone/stories-GGUF";
    private static final String FILE = "stories260K-q8_0.gguf";

    private record Result(int exitCode, String out, String err) {
    }

    @Test
    void everyModelCommandReadsAHubFileAsItReadsALocalOne(@TempDir Path dir) throws Exception {
        Path model = SharedFiles.requireShared("models/" + FILE);
        Path text = dir.resolve("text.txt");
        Files.writeString(text, "Once upon a time there was a little girl. She liked to play in the park.\n");
        Path story = dir.resolve("story.txt");
        Files.writeString(story, "Once upon a time there was a little girl. She liked to play in the park.\n".repeat(40));
        Path chatInput = dir.resolve("chat.txt");
        Files.writeString(chatInput, "Tell me a story\n/quit\n");
        List<List<String>> commands = List.of(
                List.of("generate", "-p", "Once upon a time", "-n", "12", "--temperature", "0", "-t", "1"),
                List.of("chat", "-n", "12", "--temperature", "0", "-t", "1"),
                List.of("perplexity", "-f", text.toString(), "--ctx", "32", "-t", "1", "--json"),
                List.of("tokenize", "Once upon a time"),
                List.of("bench", "-p", "8", "-n", "4", "-r", "1", "-t", "1", "--json"));
        try (LocalHub hub = new LocalHub(REPO, FILE, Files.readAllBytes(model))) {
            int run = 0;
            for (List<String> command : commands) {
                // chat reads its turns from stdin, so it runs in a process of its own; the others run here
                Result local = command.getFirst().equals("chat")
                        ? winnow(hub, dir.resolve("cache" + run), chatInput, command, "-m", model.toString())
                        : inProcess(command, "-m", model.toString());
                run++;
                assertEquals(0, local.exitCode(), command + ": " + local.err());
                Path cache = dir.resolve("cache" + run++);
                Result fromHub = winnow(hub, cache, chatInput, command, "--hf", REPO + ":" + FILE);
                assertEquals(0, fromHub.exitCode(), command + " --hf: " + fromHub.err());
                assertTrue(Files.isRegularFile(cache.resolve(REPO).resolve(FILE)), command + " downloads into the cache");
                if (command.getFirst().equals("bench")) {
                    assertTrue(fromHub.out().contains("\"model\":\"" + cache.resolve(REPO).resolve(FILE)), fromHub.out());
                } else {
                    assertEquals(local.out(), fromHub.out(), command.toString());
                }
            }

            Path localAdapter = dir.resolve("local-adapter.gguf");
            Path hubAdapter = dir.resolve("hub-adapter.gguf");
            assertEquals(0, inProcess(List.of("dcp-init", "-o", localAdapter.toString()), "-m", model.toString()).exitCode());
            Result init = winnow(hub, dir.resolve("cache-b"), chatInput, List.of("dcp-init", "-o", hubAdapter.toString()),
                    "--hf", REPO + ":" + FILE);
            assertEquals(0, init.exitCode(), init.err());
            assertArrayEquals(Files.readAllBytes(localAdapter), Files.readAllBytes(hubAdapter));

            Result trained = winnow(hub, dir.resolve("cache-c"), chatInput, List.of("train-pruning", "--data", story.toString(),
                    "--gamma", "0.2", "--steps", "1", "--seq-len", "16", "--batch", "1", "--rank", "4", "-t", "1",
                    "-o", dir.resolve("trained.gguf").toString()), "--hf", REPO + ":" + FILE);
            assertEquals(0, trained.exitCode(), trained.err());
            assertTrue(Files.isRegularFile(dir.resolve("trained.gguf")), trained.err());

            // serve reads the model, names it after the file and starts the engine before it listens: an address
            // that cannot be listened on then ends it with one line.
            Result serve = winnow(hub, dir.resolve("cache-d"), chatInput, List.of("serve", "--host", "nohost.invalid",
                    "--port", "0", "-t", "1"), "--hf", REPO + ":" + FILE);
            assertEquals(1, serve.exitCode(), serve.err());
            assertTrue(serve.err().contains("cannot listen on nohost.invalid:0"), serve.err());
        }
    }

    private static Result inProcess(List<String> command, String... model) {
        List<String> line = new ArrayList<>(command);
        line.addAll(List.of(model));
        CliRunner.Run run = CliRunner.run(line.toArray(String[]::new));
        return new Result(run.exitCode(), run.out(), run.err());
    }

    /** Runs winnow in a process of its own with the hub and cache in its environment and {@code input} on stdin. */
    private static Result winnow(LocalHub hub, Path cache, Path input, List<String> command, String... model)
            throws IOException, InterruptedException {
        List<String> line = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), "dev.winnow.cli.Main"));
        line.addAll(command);
        line.addAll(List.of(model));
        Files.createDirectories(cache);
        Path out = cache.resolve("out.txt");
        Path err = cache.resolve("err.txt");
        ProcessBuilder builder = new ProcessBuilder(line).redirectInput(input.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile());
        builder.environment().put("WINNOW_HF_ENDPOINT", hub.endpoint());
        builder.environment().put("WINNOW_CACHE", cache.toString());
        Process process = builder.start();
        assertTrue(process.waitFor(120, TimeUnit.SECONDS), command + ": winnow did not finish in 120 s");
        return new Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }
}
