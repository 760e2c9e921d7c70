package dev.winnow.tests.cli;

import dev.winnow.gguf.GgufFile;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code inspect} and {@code quantize} take the model with -m as every command does, and positionally as before. */
class ModelArgumentFormsTest {
    private static Path stories() {
        return SharedFiles.requireShared("models/stories260K.gguf");
    }

    @Test
    void inspectTakesTheModelEitherWay() {
        CliRunner.Run positional = CliRunner.run("inspect", "--no-tensors", stories().toString());
        CliRunner.Run option = CliRunner.run("inspect", "--no-tensors", "-m", stories().toString());
        assertEquals(0, option.exitCode(), option.err());
        assertEquals(positional.out(), option.out());
        assertTrue(option.out().startsWith("stories260K.gguf: GGUF v"), option.out());
    }

    @Test
    void inspectRefusesNoModelAndTwoModels() {
        CliRunner.Run none = CliRunner.run("inspect");
        assertEquals(2, none.exitCode(), none.err());
        assertTrue(none.err().contains("Missing the model"), none.err());
        CliRunner.Run both = CliRunner.run("inspect", stories().toString(), "-m", stories().toString());
        assertEquals(2, both.exitCode(), both.err());
    }

    @Test
    void quantizeTakesTheTypeAfterTheOutputAsLlamaQuantizeDoes(@TempDir Path dir) throws IOException {
        Path positional = dir.resolve("positional.gguf");
        CliRunner.Run run = CliRunner.run("quantize", stories().toString(), positional.toString(), "q8_0", "-t", "1");
        assertEquals(0, run.exitCode(), run.err());
        Path withOption = dir.resolve("option.gguf");
        run = CliRunner.run("quantize", "-m", stories().toString(), withOption.toString(), "Q8_0", "-t", "1");
        assertEquals(0, run.exitCode(), run.err());
        Path withType = dir.resolve("type.gguf");
        run = CliRunner.run("quantize", "-m", stories().toString(), withType.toString(), "--type", "q8_0", "-t", "1");
        assertEquals(0, run.exitCode(), run.err());
        assertEquals(-1, Files.mismatch(positional, withOption), "the same file whichever way it was asked for");
        assertEquals(-1, Files.mismatch(positional, withType));
        try (GgufFile file = GgufFile.open(positional)) {
            assertEquals(GgmlType.Q8_0, file.tensor("blk.0.attn_q.weight").orElseThrow().type());
        }
    }

    @Test
    void quantizeRefusesAMissingOrDoubledType(@TempDir Path dir) {
        Path out = dir.resolve("out.gguf");
        CliRunner.Run missing = CliRunner.run("quantize", stories().toString(), out.toString());
        assertEquals(2, missing.exitCode(), missing.err());
        assertTrue(missing.err().contains("Missing the type"), missing.err());
        CliRunner.Run both = CliRunner.run("quantize", stories().toString(), out.toString(), "q8_0", "--type", "q4_0");
        assertEquals(2, both.exitCode(), both.err());
        assertTrue(both.err().contains("not both"), both.err());
        CliRunner.Run bad = CliRunner.run("quantize", "-m", stories().toString(), out.toString(), "q3_k");
        assertEquals(2, bad.exitCode(), bad.err());
        assertTrue(bad.err().contains("TYPE must be one of q8_0, q4_0, q4_k, q6_k, got 'q3_k'"), bad.err());
        CliRunner.Run noOutput = CliRunner.run("quantize", "-m", stories().toString());
        assertEquals(2, noOutput.exitCode(), noOutput.err());
        assertFalse(Files.exists(out));
    }
}
