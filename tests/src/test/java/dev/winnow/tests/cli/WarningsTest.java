package dev.winnow.tests.cli;

import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One line where a user would be surprised: a context past training, a module that keeps almost nothing, --stats. */
class WarningsTest {
    private static Path stories() {
        return SharedFiles.requireShared("models/stories260K.gguf"); // trained for 2,048 tokens, by its metadata
    }

    /** A random pruning module whose every score is {@code bias}: -10 drops every earlier token, 10 keeps all. */
    private static Path module(Path dir, String bias) {
        Path adapter = dir.resolve("bias" + bias + ".gguf");
        CliRunner.Run init = CliRunner.run("dcp-init", "-m", stories().toString(), "-o", adapter.toString(), "--rank", "8",
                "--std", "0", "--bias", bias);
        assertEquals(0, init.exitCode(), init.err());
        return adapter;
    }

    @Test
    void aContextLongerThanTrainingIsNamedInOneLine() {
        CliRunner.Run run = CliRunner.run("generate", "-m", stories().toString(), "-p", "hi", "-n", "2", "-c", "4096");
        assertEquals(0, run.exitCode(), run.err());
        assertEquals(1, run.err().lines().filter(line -> line.equals("winnow: warning: a context of 4,096 tokens is "
                + "longer than the 2,048 tokens the model was trained for")).count(), run.err());
        CliRunner.Run within = CliRunner.run("generate", "-m", stories().toString(), "-p", "hi", "-n", "2", "-c", "2048");
        assertFalse(within.err().contains("warning"), within.err());
    }

    @Test
    void aModuleThatDropsAlmostEverythingNamesEachLayer(@TempDir Path dir) {
        CliRunner.Run run = CliRunner.run("generate", "-m", stories().toString(), "-p", "Once upon a time", "-n", "30",
                "--temp", "0", "--prune", "dcp", "--prune-adapter", module(dir, "-10").toString());
        assertEquals(0, run.exitCode(), run.err());
        for (int layer = 0; layer < 5; layer++) {
            String expected = "winnow: warning: layer " + layer + " keeps 2.9% of earlier tokens (1 of 35)";
            assertTrue(run.err().lines().anyMatch(line -> line.startsWith(expected)), expected + " in " + run.err());
        }
    }

    @Test
    void chatNamesEachThinLayerOnce(@TempDir Path dir) throws Exception {
        Launcher.Result r = Launcher.launch("Once upon a time\nThe end\n/exit\n", Map.of(), "chat", "-m",
                stories().toString(), "-n", "10", "--temp", "0", "--prune", "dcp", "--prune-adapter",
                module(dir, "-10").toString());
        assertEquals(0, r.exitCode(), r.err());
        assertEquals(5, r.err().lines().filter(line -> line.matches("winnow: warning: layer \\d keeps .*")).count(), r.err());
    }

    @Test
    void aModuleThatKeepsEverythingWarnsOfNothingAndStatsSayWhyPagesTakeMore(@TempDir Path dir) {
        CliRunner.Run run = CliRunner.run("generate", "-m", stories().toString(), "-p", "Once upon a time", "-n", "30",
                "--temp", "0", "--prune", "dcp", "--prune-adapter", module(dir, "10").toString(), "--stats");
        assertEquals(0, run.exitCode(), run.err());
        assertFalse(run.err().contains("warning"), run.err());
        assertTrue(run.err().contains("winnow: more bytes than dense: each layer holds whole pages of 16 slots, and 65 "
                + "of the slots held are free (the last page of each layer is rounded up"), run.err());
    }
}
