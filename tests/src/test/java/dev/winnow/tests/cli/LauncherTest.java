package dev.winnow.tests.cli;

import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The real launcher and the shaded jar, as a user runs them. Needs the jar, which {@code ./mvnw verify} builds
 * before this module's tests run; skipped with a reason otherwise.
 */
class LauncherTest {
    private static Path root;

    @BeforeAll
    static void findJar() {
        root = Path.of(System.getProperty("user.dir")).toAbsolutePath().getParent();
        Path jar = root.resolve("cli/target/winnow.jar");
        if (!Files.isRegularFile(jar)) {
            System.err.println("SKIPPED LauncherTest: " + jar + " is not built (run ./mvnw verify, not ./mvnw test)");
        }
        assumeTrue(Files.isRegularFile(jar), jar + " is not built (run ./mvnw verify)");
    }

    record Result(int exitCode, String out, String err) {
    }

    private static Result launch(String stdin, Map<String, String> env, String... args) throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder();
        builder.command().add(root.resolve("bin/winnow").toString());
        builder.command().addAll(List.of(args));
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        builder.environment().putAll(env);
        Path outFile = Files.createTempFile("winnow-out", ".txt");
        Path errFile = Files.createTempFile("winnow-err", ".txt");
        try {
            builder.redirectOutput(outFile.toFile()).redirectError(errFile.toFile());
            Process process = builder.start();
            try (var in = process.getOutputStream()) {
                in.write(stdin.getBytes(StandardCharsets.UTF_8));
            }
            assertTrue(process.waitFor(120, TimeUnit.SECONDS), "winnow did not finish in 120 s");
            return new Result(process.exitValue(), Files.readString(outFile), Files.readString(errFile));
        } finally {
            Files.deleteIfExists(outFile);
            Files.deleteIfExists(errFile);
        }
    }

    @Test
    void generatesTheReferenceStory() throws Exception {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        String expected = Files.readString(SharedFiles.requireShared("models/reference/once-upon-a-time.txt"));
        Result r = launch("", Map.of(), "generate", "-m", model.toString(), "-p", "Once upon a time", "-n", "196",
                "--temperature", "0");
        assertEquals(0, r.exitCode(), r.err());
        assertEquals(expected, r.out());
        assertTrue(r.err().contains("tok/s"), r.err());
        assertFalse(r.err().contains("WARNING"), r.err());
    }

    @Test
    void chatKeepsTheConversationAndAnswersCommands() throws Exception {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        Result r = launch("Once upon a time\n/stats\nThe end\n/reset\n/quit\n", Map.of(),
                "chat", "-m", model.toString(), "-n", "20", "--temperature", "0");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().contains("context"), r.err());
        assertTrue(r.err().contains("conversation forgotten"), r.err());
        assertTrue(r.out().startsWith("> "), r.out());
        assertTrue(r.out().length() > 40, "the model should answer: " + r.out());
    }

    @Test
    void refusesAnOldJava() throws Exception {
        Path oldJava = Path.of("/usr/lib/jvm/java-17-openjdk-amd64");
        assumeTrue(Files.isDirectory(oldJava), "no JDK 17 on this machine to test the refusal with");
        Result r = launch("", Map.of("JAVA_HOME", oldJava.toString(), "PATH", oldJava.resolve("bin") + ":/usr/bin:/bin"),
                "--version");
        assertEquals(3, r.exitCode(), r.err());
        assertTrue(r.err().contains("Java 25"), r.err());
    }

    @Test
    void printsItsVersion() throws Exception {
        Result r = launch("", Map.of(), "--version");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().startsWith("winnow"), r.out());
    }
}
