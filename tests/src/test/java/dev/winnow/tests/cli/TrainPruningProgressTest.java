package dev.winnow.tests.cli;

import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** train-pruning's steps through the one progress display: a redrawn bar on a terminal, plain lines in a log. */
class TrainPruningProgressTest {

    private static List<String> run(Path dir) {
        return List.of("train-pruning", "-m", SharedFiles.requireShared("models/stories260K.gguf").toString(), "--data",
                SharedFiles.requireShared("data/tinystories-dev.txt").toString(), "-o", dir.resolve("out.gguf").toString(),
                "--gamma", "0.5", "--steps", "6", "--seq-len", "16", "--batch", "1", "--rank", "4", "--holdout", "0.02",
                "--eval-rows", "1", "--eval-every", "3", "--checkpoint-every", "0", "--log-every", "2", "-t", "1");
    }

    @Test
    void aLogGetsALineEveryLogEverySteps(@TempDir Path dir) throws Exception {
        Launcher.Result r = Launcher.launch("", Map.of(), run(dir).toArray(String[]::new));
        assertEquals(0, r.exitCode(), r.err());
        assertFalse(r.err().contains("\r"), r.err());
        List<String> steps = r.err().lines().filter(line -> line.startsWith("winnow: train-pruning ")).toList();
        assertEquals(3, steps.size(), r.err());
        for (int i = 0; i < 3; i++) {
            String line = steps.get(i);
            assertTrue(line.contains(" " + 2 * (i + 1) + "/6 steps | "), line);
            assertTrue(line.matches(".* steps/s .*\\| loss \\d+\\.\\d{4} = lm .*"), line);
        }
        assertTrue(steps.getFirst().contains("| ETA "), steps.getFirst());
        assertTrue(r.err().contains("eval after step 3"), r.err());
    }

    @Test
    void aTerminalGetsABarAndTheEvaluationsStay(@TempDir Path dir) throws Exception {
        String terminal = Launcher.terminalOutputOf(run(dir).toArray(String[]::new));
        assertTrue(terminal.contains("\rwinnow: train-pruning ["), terminal);
        assertTrue(terminal.contains("\reval after step 3"), "the evaluation replaces the bar's line: " + terminal);
        assertTrue(terminal.contains("winnow: 6 steps in "), terminal);
    }
}
