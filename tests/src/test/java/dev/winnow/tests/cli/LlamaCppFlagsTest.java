package dev.winnow.tests.cli;

import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A command line copied from llama.cpp runs here, with the same meaning, or says why a flag does nothing. */
class LlamaCppFlagsTest {

    private static CliRunner.Run generate(String... flags) {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        String[] args = new String[flags.length + 3];
        args[0] = "generate";
        args[1] = "-m";
        args[2] = model.toString();
        System.arraycopy(flags, 0, args, 3, flags.length);
        return CliRunner.run(args);
    }

    @Test
    void llamaCppSpellingsMeanWhatTheyMeanThere(@TempDir Path dir) throws IOException {
        CliRunner.Run ours = generate("-p", "Once upon a time", "--tokens", "24", "--temperature", "0", "--ctx", "256",
                "--threads", "1", "--seed", "7");
        assertEquals(0, ours.exitCode(), ours.err());
        Path prompt = Files.writeString(dir.resolve("prompt.txt"), "Once upon a time");
        CliRunner.Run theirs = generate("-f", prompt.toString(), "--n-predict", "24", "--temp", "0", "--ctx-size", "256",
                "-t", "1", "-s", "7");
        assertEquals(0, theirs.exitCode(), theirs.err());
        assertEquals(ours.out(), theirs.out());
        CliRunner.Run shortContext = generate("-p", "Once upon a time", "-n", "24", "--temp", "0", "-c", "256");
        assertEquals(ours.out(), shortContext.out(), shortContext.err());
    }

    @Test
    void gpuLayersAreNotedNotMisread() {
        CliRunner.Run run = generate("-p", "Once", "-n", "2", "-ngl", "99");
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("Winnow runs on the CPU; -ngl 99 has no effect here"), run.err());
    }

    @Test
    void promptTextAndPromptFileExcludeEachOther(@TempDir Path dir) throws IOException {
        Path prompt = Files.writeString(dir.resolve("prompt.txt"), "Once");
        CliRunner.Run run = generate("-p", "Once", "-f", prompt.toString(), "-n", "2");
        assertEquals(2, run.exitCode(), run.err());
        assertTrue(run.err().contains("mutually exclusive"), run.err());
    }

    @Test
    void anAdapterWithoutDcpIsNamedAsUnused() {
        Path adapter = SharedFiles.requireShared("models/stories260K-f32.gguf");
        CliRunner.Run run = generate("-p", "Once", "-n", "2", "--prune-adapter", adapter.toString());
        assertTrue(run.err().contains("--prune-adapter " + adapter + " is not used: it only applies with --prune dcp"),
                run.err());
    }

    @Test
    void anExplainPathThatCannotBeWrittenIsRefusedBeforeAnyWork() {
        CliRunner.Run run = generate("-p", "Once", "-n", "2", "--explain", "/nonexistent/dir/x.html");
        assertEquals(1, run.exitCode(), run.err());
        assertTrue(run.err().contains("--explain /nonexistent/dir/x.html: the folder /nonexistent/dir does not exist"),
                run.err());
        assertFalse(run.err().contains("loaded"), "refused before the model is loaded: " + run.err());
    }

    @Test
    void serveListsNoFlagThatDoesNothingThere() {
        CliRunner.Run help = CliRunner.run("serve", "--help");
        assertEquals(0, help.exitCode(), help.err());
        assertFalse(help.out().contains("--stats"), help.out());
        CliRunner.Run generateHelp = CliRunner.run("generate", "--help");
        assertTrue(generateHelp.out().contains("--stats"), generateHelp.out());
    }
}
