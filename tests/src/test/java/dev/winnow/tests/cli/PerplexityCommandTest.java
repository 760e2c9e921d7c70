package dev.winnow.tests.cli;

import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code winnow perplexity} through the launcher: its default window and its progress, in a log and on a terminal. */
class PerplexityCommandTest {

    /** About 1,800 tokens of stories260K's own kind of text: four windows of 512. */
    private static Path shortText(Path dir) throws IOException {
        String text = Files.readString(SharedFiles.requireShared("data/tinystories-dev.txt"));
        return Files.writeString(dir.resolve("short.txt"), text.substring(0, 4000));
    }

    @Test
    void aLogGetsPlainLinesWithTheRunningPerplexityAndTheDefaultWindowIs512(@TempDir Path dir) throws Exception {
        Path model = SharedFiles.requireShared("models/stories260K.gguf"); // its metadata says 2,048 tokens
        Launcher.Result r = Launcher.launch("", Map.of(), "perplexity", "-m", model.toString(), "-f",
                shortText(dir).toString(), "-t", "1");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("windows of up to 512)"), r.out());
        assertFalse(r.err().contains("\r"), "no carriage return in a log: " + r.err());
        long progressLines = r.err().lines().filter(line -> line.startsWith("winnow: perplexity ")
                && line.contains(" windows") && line.matches(".*\\| ppl \\d+\\.\\d{4} over [\\d,]+ tokens")).count();
        assertTrue(progressLines >= 2, "periodic lines with the running perplexity: " + r.err());
        assertTrue(r.err().contains("| ETA "), r.err());
        assertTrue(r.err().lines().anyMatch(line -> line.matches("winnow: [\\d,]+ tokens in \\d+\\.\\d s")), r.err());
    }

    @Test
    void aTerminalGetsABarRedrawnInPlace(@TempDir Path dir) throws Exception {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        String terminal = Launcher.terminalOutputOf("perplexity", "-m", model.toString(), "-f",
                shortText(dir).toString(), "-t", "1");
        assertTrue(terminal.contains("\rwinnow: perplexity ["), terminal);
        assertTrue(terminal.matches("(?s).*] 100% (\\d+)/\\1 windows.*"), terminal);
        assertTrue(terminal.contains("ppl "), terminal);
    }

    @Test
    void helpSaysWhyTheWindowIs512() {
        CliRunner.Run help = CliRunner.run("perplexity", "--help");
        assertEquals(0, help.exitCode(), help.err());
        assertTrue(help.out().replaceAll("\\s+", " ").contains("Windows are 512 tokens unless --ctx says otherwise"),
                help.out());
    }
}
