package dev.winnow.tests.kv;

import dev.winnow.engine.kv.KvBudget;
import dev.winnow.tests.SharedFiles;
import dev.winnow.tests.cli.CliRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The KV cache options of the command line: page size, budget, storage type and the statistics table. */
class KvCliTest {

    @Test
    void smallPagesStillGiveTheReferenceTextAndStatsShowTheCache() throws IOException {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        String expected = Files.readString(SharedFiles.requireShared("models/reference/once-upon-a-time.txt"));
        CliRunner.Run run = CliRunner.run("generate", "-m", model.toString(), "-p", "Once upon a time", "-n", "196",
                "--temperature", "0", "--kv-page-size", "4", "--stats");
        assertEquals(0, run.exitCode(), run.err());
        assertEquals(expected, run.out());
        // 5 prompt tokens + 196 generated = 201 live tokens per layer, in ceil(201 / 4) = 51 pages of 4 slots.
        assertTrue(run.err().matches("(?s).*\\n\\s+0\\s+201\\s+51\\s+3\\s.*"), run.err());
        assertTrue(run.err().contains("total"), run.err());
    }

    @Test
    void tooSmallABudgetEndsWithAClearError() {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        CliRunner.Run run = CliRunner.run("generate", "-m", model.toString(), "-p", "Once upon a time", "-n", "300",
                "--temperature", "0", "--kv-budget", "64");
        assertEquals(1, run.exitCode(), run.err());
        assertTrue(run.err().contains("KV cache full"), run.err());
        assertTrue(run.err().contains("--kv-budget"), run.err());
        assertFalse(run.err().contains("\tat "), run.err());
        assertTrue(run.out().startsWith("Once upon a time"), "the text generated before the cache filled is kept");
    }

    @ParameterizedTest
    @CsvSource({"--kv-type, q4_0, --kv-type, 2", "--kv-type, q8_0, multiple of 32, 1", "--kv-budget, lots, KV budget, 2",
            "--kv-budget, 100B, fewer than one per layer, 1", "--kv-page-size, 65, --kv-page-size, 2",
            "--kv-page-size, 0, --kv-page-size, 2"})
    void badCacheOptionsAreRejected(String option, String value, String mention, int exitCode) {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        CliRunner.Run run = CliRunner.run("generate", "-m", model.toString(), "-p", "Once", "-n", "4", option, value);
        // A malformed or out-of-range value is a usage error (2); one this model cannot use is a failed run (1).
        assertEquals(exitCode, run.exitCode(), run.err());
        assertTrue(run.err().contains(mention), run.err());
        assertFalse(run.err().contains("\tat "), run.err());
    }

    @ParameterizedTest
    @CsvSource({"4096, 4096, 0", "256MiB, 0, 268435456", "1.5GB, 0, 1500000000", "512kib, 0, 524288", "100B, 0, 100"})
    void budgetsParse(String text, long tokens, long bytes) {
        KvBudget budget = KvBudget.parse(text);
        if (tokens > 0) {
            assertEquals(KvBudget.tokens(tokens), budget);
        } else {
            assertEquals(KvBudget.bytes(bytes), budget);
        }
    }

    @Test
    void budgetsGivePages() {
        // Room for 100 tokens in each of 5 layers with 16-slot pages: ceil(100 / 16) = 7 pages per layer.
        assertEquals(35, KvBudget.tokens(100).maxPages(5, 16, 4096));
        assertEquals(2, KvBudget.bytes(9000).maxPages(5, 16, 4096));
        assertThrows(IllegalArgumentException.class, () -> KvBudget.parse("1.5"));
        assertThrows(IllegalArgumentException.class, () -> KvBudget.parse("0"));
        assertThrows(IllegalArgumentException.class, () -> KvBudget.parse("10 parsecs"));
    }
}
