package dev.winnow.tests.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import dev.winnow.tests.SharedFiles;
import dev.winnow.tests.cli.CliRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code generate --hf REPO:FILE}: a winnow process whose environment points {@code WINNOW_HF_ENDPOINT} at a
 * stand-in hub and {@code WINNOW_CACHE} at a scratch folder downloads the model there and generates exactly what
 * the same file gives with {@code -m}.
 */
class HubModelOptionTest {

    @Test
    void generatesFromAModelOnTheHub(@TempDir Path cache) throws Exception {
        Path model = SharedFiles.requireShared("models/stories260K-q8_0.gguf");
        String[] generate = {"generate", "-p", "Once upon a time", "-n", "12", "--temperature", "0", "-t", "1"};
        CliRunner.Run local = CliRunner.run(concat(generate, "-m", model.toString()));
        assertEquals(0, local.exitCode(), local.err());
        try (LocalHub hub = new LocalHub("someone/stories-GGUF", "stories260K-q8_0.gguf", Files.readAllBytes(model))) {
            ProcessBuilder builder = new ProcessBuilder(concat(new String[] {
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                    "-cp", System.getProperty("java.class.path"), "dev.winnow.cli.Main"},
                    concat(generate, "--hf", "someone/stories-GGUF:stories260K-q8_0.gguf")))
                    .redirectOutput(cache.resolve("out.txt").toFile())
                    .redirectError(cache.resolve("err.txt").toFile());
            builder.environment().put("WINNOW_HF_ENDPOINT", hub.endpoint());
            builder.environment().put("WINNOW_CACHE", cache.resolve("cache").toString());
            Process process = builder.start();
            assertTrue(process.waitFor(120, TimeUnit.SECONDS), "winnow did not finish in 120 s");
            String err = Files.readString(cache.resolve("err.txt"), StandardCharsets.UTF_8);
            assertEquals(0, process.exitValue(), err);
            assertEquals(local.out(), Files.readString(cache.resolve("out.txt"), StandardCharsets.UTF_8));
            assertTrue(Files.isRegularFile(cache.resolve("cache/someone/stories-GGUF/stories260K-q8_0.gguf")));
        }
    }

    @Test
    void modelAndHubFileTogetherIsAUsageError() {
        CliRunner.Run run = CliRunner.run("generate", "-p", "hi", "-m", "a.gguf", "--hf", "a/b:c.gguf");
        assertEquals(2, run.exitCode());
        assertTrue(run.err().contains("either with --model or with --hf"), run.err());
    }

    private static String[] concat(String[] first, String... rest) {
        return java.util.stream.Stream.concat(List.of(first).stream(), List.of(rest).stream()).toArray(String[]::new);
    }
}
