package dev.winnow.tests.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Runs the real launcher ({@code bin/winnow}) and the shaded jar, as a user does, and drives it in a tmux terminal
 * where terminal behaviour is tested. Needs the jar, which {@code ./mvnw verify} builds before this module's tests
 * run; tests that use it are skipped with a reason otherwise.
 */
final class Launcher {
    private Launcher() {
    }

    record Result(int exitCode, String out, String err) {
    }

    interface Check {
        boolean holds() throws IOException;
    }

    /** The repository root, after checking that the jar is built (skips the test with a reason if not). */
    static Path root() {
        Path root = Path.of(System.getProperty("user.dir")).toAbsolutePath().getParent();
        Path jar = root.resolve("cli/target/winnow.jar");
        if (!Files.isRegularFile(jar)) {
            System.err.println("SKIPPED: " + jar + " is not built (run ./mvnw verify, not ./mvnw test)");
        }
        assumeTrue(Files.isRegularFile(jar), jar + " is not built (run ./mvnw verify)");
        return root;
    }

    /** Runs {@code bin/winnow args} with stdout and stderr going to files (not a terminal). */
    static Result launch(String stdin, Map<String, String> env, String... args) throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder();
        builder.command().add(root().resolve("bin/winnow").toString());
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

    /** tmux is what gives a test a real terminal; skips the test with a reason where it is not installed. */
    static void requireTmux() {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/tmux")), "tmux is not installed; no terminal to test in");
    }

    /** Waits (bounded generously: the suite runs on a loaded machine) until the check holds. */
    static void awaitTrue(Check check, String failure, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!check.holds()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(failure + ": " + (Files.exists(log) ? Files.readString(log) : "(no output)"));
            }
            Thread.sleep(200);
        }
    }

    static void tmux(String... args) throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder("tmux");
        builder.command().addAll(List.of(args));
        Process process = builder.redirectErrorStream(true).start();
        process.getInputStream().readAllBytes();
        assertTrue(process.waitFor(30, TimeUnit.SECONDS), "tmux did not answer");
    }

    /** What tmux session {@code session}'s terminal shows now. */
    static String screen(String session) throws IOException {
        Process process = new ProcessBuilder("tmux", "capture-pane", "-p", "-t", session).redirectErrorStream(true).start();
        String screen = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            process.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return screen;
    }

    /**
     * Runs {@code bin/winnow args} in a tmux terminal with stderr on that terminal (stdout discarded), waits for it
     * to end and returns everything it wrote to the terminal, carriage returns included.
     */
    static String terminalOutputOf(String... args) throws Exception {
        requireTmux();
        Path dir = Files.createTempDirectory("winnow-terminal");
        String session = "winnow-terminal-" + ProcessHandle.current().pid();
        Path go = dir.resolve("go");
        Path exit = dir.resolve("exit.txt");
        Path written = dir.resolve("terminal.txt");
        // The script waits until the pane is recorded, so that nothing it writes is missed.
        Path script = Files.writeString(dir.resolve("run.sh"), "export JAVA_HOME=" + System.getProperty("java.home")
                + "\nwhile [ ! -e " + go + " ]; do sleep 0.1; done\n" + root().resolve("bin/winnow") + " "
                + String.join(" ", args) + " >/dev/null\necho $? >" + exit + "\nsleep 60\n");
        tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50", "bash " + script);
        try {
            tmux("pipe-pane", "-t", session, "cat >> " + written);
            Files.createFile(go);
            awaitTrue(() -> Files.exists(exit) && !Files.readString(exit).isBlank(), "winnow did not finish", written);
            assertTrue(Files.readString(exit).strip().equals("0"), "exit " + Files.readString(exit) + ": "
                    + Files.readString(written));
            return Files.readString(written);
        } finally {
            tmux("kill-session", "-t", session);
        }
    }
}
