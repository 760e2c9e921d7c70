package dev.winnow.tests.cli;

import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every exit code of the README's table, as a user meets it. */
class ExitCodesTest {

    @Test
    void zeroWhenTheCommandDidItsWork() throws Exception {
        assertEquals(0, Launcher.launch("", Map.of(), "--version").exitCode());
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        assertEquals(0, CliRunner.run("tokenize", "-m", model.toString(), "Once").exitCode());
    }

    @Test
    void oneWhenTheWorkCannotBeDone(@TempDir Path dir) throws Exception {
        Launcher.Result missing = Launcher.launch("", Map.of(), "generate", "-m", dir.resolve("absent.gguf").toString(),
                "-p", "hi");
        assertEquals(1, missing.exitCode(), missing.err());
        assertTrue(missing.err().contains("file not found"), missing.err());
        Path garbage = Files.writeString(dir.resolve("garbage.gguf"), "not a model");
        assertEquals(1, CliRunner.run("inspect", garbage.toString()).exitCode());
    }

    /** Out-of-range values are a wrong command line, like unknown options: 2, with a pointer to --help. */
    @ParameterizedTest
    @CsvSource({
            "generate, --top-p, 2, top-p must be in (0, 1]",
            "generate, --top-p, 0, top-p must be in (0, 1]",
            "generate, --temp, -1, temperature must be",
            "generate, --min-p, 1.5, min-p must be",
            "generate, --top-k, -3, top-k must be",
            "generate, --repeat-last-n, -1, repeat-last-n must be",
            "chat, --top-p, 2, top-p must be in (0, 1]",
            "generate, -n, -2, -n must be -1 or more",
            "generate, --no-such-flag, x, Unknown option"})
    void twoForAWrongCommandLine(String command, String option, String value, String mention) {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        List<String> args = new ArrayList<>(List.of(command, "-m", model.toString(), option, value));
        if (command.equals("generate")) {
            args.addAll(List.of("-p", "hi"));
        }
        CliRunner.Run run = CliRunner.run(args.toArray(String[]::new));
        assertEquals(2, run.exitCode(), run.err());
        assertTrue(run.err().startsWith("winnow: "), run.err());
        assertTrue(run.err().contains(mention), run.err());
        assertTrue(run.err().contains(" --help' for usage"), run.err());
        assertFalse(run.err().contains("\tat "), run.err());
    }

    @Test
    void twoThroughTheLauncherToo() throws Exception {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        Launcher.Result r = Launcher.launch("", Map.of(), "generate", "-m", model.toString(), "-p", "hi", "--top-p", "2");
        assertEquals(2, r.exitCode(), r.err());
    }

    /** SIGINT (Ctrl-C) ends a command with 130, as a shell reports it; the launcher does not hide it. */
    @Test
    void oneThirtyWhenInterrupted(@TempDir Path dir) throws Exception {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        Assumptions.assumeFalse(ignoresSigint(), "this JVM ignores SIGINT (it was started in the background by a "
                + "non-interactive shell), and a child keeps an ignored signal ignored: no Ctrl-C can reach winnow here");
        // Fifty copies of the corpus: many minutes of work even on a fast machine (one copy took 23 s on an idle
        // 2-core machine), so the run is still reading when the signal comes however long it takes to arrive.
        String corpus = Files.readString(SharedFiles.requireShared("data/tinystories-dev.txt"));
        Path data = Files.writeString(dir.resolve("long.txt"), corpus.repeat(50));
        Path err = dir.resolve("err.txt");
        ProcessBuilder builder = new ProcessBuilder(Launcher.root().resolve("bin/winnow").toString(), "perplexity",
                "-m", model.toString(), "-f", data.toString(), "-t", "1")
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(err.toFile());
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process process = builder.start();
        try {
            Launcher.awaitTrue(() -> Files.readString(err).contains("winnow: loaded"), "perplexity never started", err);
            Process kill = new ProcessBuilder("kill", "-INT", Long.toString(process.pid())).start();
            assertTrue(kill.waitFor(30, TimeUnit.SECONDS));
            assertTrue(process.waitFor(60, TimeUnit.SECONDS), "perplexity did not stop on SIGINT");
            assertEquals(130, process.exitValue(), Files.readString(err));
        } finally {
            process.destroyForcibly();
        }
    }

    /** Whether SIGINT is in this process's ignored set (Linux's /proc; elsewhere assumed not). */
    private static boolean ignoresSigint() throws IOException {
        Path status = Path.of("/proc/self/status");
        if (!Files.isReadable(status)) {
            return false;
        }
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith("SigIgn:")) {
                long ignored = Long.parseUnsignedLong(line.substring("SigIgn:".length()).strip(), 16);
                return (ignored & 1L << 1) != 0; // bit n - 1 stands for signal n; SIGINT is 2
            }
        }
        return false;
    }
}
