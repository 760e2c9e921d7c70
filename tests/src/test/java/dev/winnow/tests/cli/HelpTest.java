package dev.winnow.tests.cli;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What every command's help lists works there. */
class HelpTest {

    @ParameterizedTest
    @ValueSource(strings = {"generate", "chat", "serve", "perplexity", "bench", "tokenize", "inspect", "quantize", "pull",
            "dcp-init", "train-pruning"})
    void everyCommandAnswersTheVersionFlagItsHelpLists(String command) {
        CliRunner.Run help = CliRunner.run(command, "--help");
        assertTrue(help.out().contains("--version"), help.out());
        CliRunner.Run version = CliRunner.run(command, "--version");
        assertEquals(0, version.exitCode(), version.err());
        assertTrue(version.out().startsWith("winnow ") && version.out().contains(", commit "), version.out());
    }
}
