package dev.winnow.tests.hostile;

import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufTensorInfo;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tests.SharedFiles;
import dev.winnow.tests.cli.CliRunner;
import dev.winnow.tests.hostile.CraftedModels.Replacement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The crafted files and command lines of issue 18: each ends with one clear line on stderr and the documented
 * exit code (or, where the input is legal, works), never a stack trace, an internal error or an Error.
 */
class HostileInputTest {
    private static final String LAYERS = "llama.block_count";

    private static Path stories() {
        return SharedFiles.requireShared("models/stories260K.gguf");
    }

    @Test
    void aHugeBlockCountIsRefusedBeforeAnythingIsSizedByIt(@TempDir Path dir) throws IOException {
        Path model = CraftedModels.rewrite(stories(), dir.resolve("layers.gguf"),
                w -> w.putUInt32(LAYERS, Integer.MAX_VALUE), Map.of());
        assertOneLineError(CliRunner.run("generate", "-m", model.toString(), "-p", "hi", "-n", "2"), 1,
                "block_count is 2147483647");
    }

    @Test
    void headWidthsThatOverflowAnIntAreRefused(@TempDir Path dir) throws IOException {
        int headDim = (1 << 29) + 8;
        Map<String, Replacement> square = new java.util.HashMap<>();
        try (GgufFile file = GgufFile.open(stories())) {
            for (GgufTensorInfo t : file.tensors()) {
                if (t.name().endsWith("attn_k.weight") || t.name().endsWith("attn_v.weight")) {
                    square.put(t.name(), new Replacement(GgmlType.F32, new long[] {64, 64}, data -> { }));
                }
            }
        }
        Path model = CraftedModels.rewrite(stories(), dir.resolve("overflow.gguf"), w -> w
                .putUInt32("llama.attention.head_count_kv", 8)
                .putUInt32("llama.attention.key_length", headDim)
                .putUInt32("llama.attention.value_length", headDim), square);
        assertOneLineError(CliRunner.run("generate", "-m", model.toString(), "-p", "hi", "-n", "2"), 1,
                "key_length (536870920)");
    }

    @Test
    void aFlippedTensorTypeIsRefusedAtLoadNamingTheTensor(@TempDir Path dir) throws IOException {
        Path model = CraftedModels.retypeInPlace(stories(), dir.resolve("retyped.gguf"), "blk.1.ffn_gate.weight",
                GgmlType.Q4_0);
        CliRunner.Run run = CliRunner.run("generate", "-m", model.toString(), "-p", "hi", "-n", "2");
        assertOneLineError(run, 1, "blk.1.ffn_gate.weight");
        assertTrue(run.err().contains("malformed GGUF"), run.err());
    }

    @Test
    void nonFiniteActivationsNameTheFirstLayerWhereTheyAppear(@TempDir Path dir) throws IOException {
        String name = "blk.2.ffn_down.weight";
        GgufTensorInfo down;
        try (GgufFile file = GgufFile.open(stories())) {
            down = file.tensor(name).orElseThrow();
        }
        Path model = CraftedModels.rewrite(stories(), dir.resolve("nan.gguf"), w -> { },
                Map.of(name, Replacement.edited(down, CraftedModels.setFloat(0, Float.NaN))));
        CliRunner.Run run = CliRunner.run("generate", "-m", model.toString(), "-p", "Once upon a time", "-n", "4");
        assertOneLineError(run, 1, "layer 2 (its feed-forward block)");
        assertTrue(run.err().contains("broken model"), run.err());
    }

    @Test
    void aUint64AboveLongMaxIsShownByInspectAndRefusedWhereItIsUsed(@TempDir Path dir) throws IOException {
        Path model = CraftedModels.rewrite(stories(), dir.resolve("ctx.gguf"),
                w -> w.putUInt64("llama.context_length", Long.MIN_VALUE), Map.of());
        CliRunner.Run inspect = CliRunner.run("inspect", model.toString(), "--no-tensors");
        assertEquals(0, inspect.exitCode(), inspect.err());
        assertTrue(inspect.out().contains("9223372036854775808"), inspect.out());
        assertOneLineError(CliRunner.run("generate", "-m", model.toString(), "-p", "hi", "-n", "2"), 1,
                "llama.context_length");
    }

    @Test
    void threadCountsBeyondAFewPerCoreAreAUsageError() {
        assertOneLineError(CliRunner.run("generate", "-m", stories().toString(), "-p", "hi", "--threads", "100000"), 2,
                "--threads must be at most");
        assertOneLineError(CliRunner.run("quantize", stories().toString(), "out.gguf", "--type", "q8_0", "-t", "100000"),
                2, "--threads must be at most");
    }

    @Test
    void quantizeRefusesToReplaceASymbolicLinkOrAFifo(@TempDir Path dir) throws IOException, InterruptedException {
        Path target = Files.writeString(dir.resolve("precious.txt"), "keep me");
        Path link = Files.createSymbolicLink(dir.resolve("link.gguf"), target);
        assertOneLineError(CliRunner.run("quantize", stories().toString(), link.toString(), "--type", "q8_0"), 1,
                "symbolic link");
        assertTrue(Files.isSymbolicLink(link), "the link is still a link");
        assertEquals("keep me", Files.readString(target));

        Path fifo = dir.resolve("fifo.gguf");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        assertEquals(0, mkfifo.waitFor(), "mkfifo");
        assertOneLineError(CliRunner.run("quantize", stories().toString(), fifo.toString(), "--type", "q8_0"), 1,
                "not a regular file");
        assertTrue(Files.readAttributes(fifo, java.nio.file.attribute.BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                .isOther(), "the FIFO is still a FIFO");

        Path directory = Files.createDirectory(dir.resolve("dir.gguf"));
        assertOneLineError(CliRunner.run("quantize", stories().toString(), directory.toString(), "--type", "q8_0"), 1,
                "a directory");
        assertTrue(Files.isDirectory(directory, LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void controlCharactersAndHugeValuesFromAFileAreEscapedAndCut(@TempDir Path dir) throws IOException {
        String huge = "x".repeat(1_000_000);
        Path model = CraftedModels.rewrite(stories(), dir.resolve("escapes.gguf"), w -> w
                .putString("evil\u001B[2J\u0007\r.key", "value\u001B]0;pwned\u0007\rend")
                .putString("general.architecture", "mamba\u001B[31m" + huge), Map.of());
        CliRunner.Run inspect = CliRunner.run("inspect", model.toString(), "--no-tensors");
        assertEquals(0, inspect.exitCode(), inspect.err());
        assertNoControlCharacters(inspect.out());
        assertTrue(inspect.out().contains("evil\\u001B[2J\\u0007\\r.key"), inspect.out());
        assertTrue(inspect.out().contains("(1,000,010 characters)"), "the full length is noted");
        assertTrue(inspect.out().length() < 20_000, "inspect printed " + inspect.out().length() + " characters");

        CliRunner.Run generate = CliRunner.run("generate", "-m", model.toString(), "-p", "hi");
        assertOneLineError(generate, 1, "unsupported architecture 'mamba\\u001B[31mxxx");
        assertNoControlCharacters(generate.err().stripTrailing());
        assertTrue(generate.err().length() < 1000, "error line of " + generate.err().length() + " characters");
        assertTrue(generate.err().contains("characters cut"), generate.err());
    }

    @Test
    void tokenCountsThatOverflowAnIntAreReportedWithTheirRealSum() {
        CliRunner.Run run = CliRunner.run("generate", "-m", stories().toString(), "-p", "hi", "-n", "2147483647");
        assertOneLineError(run, 1, "2147483647 generated tokens need 21474836");
        assertFalse(run.err().contains("-21"), "no overflowed count: " + run.err());
    }

    @Test
    void kvBudgetsBeyondALongAreNamedAndTheLargestLongWorks() {
        assertOneLineError(CliRunner.run("generate", "-m", stories().toString(), "-p", "hi", "-n", "2",
                "--kv-budget", "99999999999999999999"), 2, "KV budget '99999999999999999999' is too large");
        CliRunner.Run largest = CliRunner.run("generate", "-m", stories().toString(), "-p", "hi", "-n", "2",
                "--kv-budget", "9223372036854775807", "--temperature", "0");
        assertEquals(0, largest.exitCode(), largest.err());
    }

    @Test
    void invalidUtf8InATextFileNamesTheFileAndTheByte(@TempDir Path dir) throws IOException {
        Path text = Files.write(dir.resolve("latin1.txt"), new byte[] {'O', 'n', 'c', 'e', ' ', (byte) 0xE9, 't', 'e'});
        String expected = "latin1.txt is not valid UTF-8: byte 0xE9 at offset 5";
        assertOneLineError(CliRunner.run("tokenize", "-m", stories().toString(), "-f", text.toString()), 1, expected);
        assertOneLineError(CliRunner.run("perplexity", "-m", stories().toString(), "-f", text.toString()), 1, expected);
    }

    @Test
    void perplexityOfAnEmptyFileSaysSo(@TempDir Path dir) throws IOException {
        Path empty = Files.writeString(dir.resolve("empty.txt"), "");
        assertOneLineError(CliRunner.run("perplexity", "-m", stories().toString(), "-f", empty.toString()), 1,
                "empty.txt holds no text");
    }

    @Test
    void aZeroContextIsRefusedLikeANegativeOne() {
        assertOneLineError(CliRunner.run("generate", "-m", stories().toString(), "-p", "hi", "--ctx", "0"), 2,
                "--ctx must be positive, got 0");
    }

    /** A command that fails with an Error: picocli hands only Exceptions to its handler. */
    @CommandLine.Command(name = "fail-with-error")
    static final class FailWithError implements Callable<Integer> {
        @Override
        public Integer call() {
            throw new OutOfMemoryError("Java heap space");
        }
    }

    @Test
    void errorsThatPicocliLetsThroughBecomeTheOneLineToo() {
        CommandLine cli = dev.winnow.cli.Main.commandLine();
        cli.addSubcommand(new FailWithError());
        java.io.StringWriter err = new java.io.StringWriter();
        cli.setErr(new java.io.PrintWriter(err, true));
        cli.setOut(new java.io.PrintWriter(new java.io.StringWriter(), true));
        int code = cli.execute("fail-with-error");
        assertOneLineError(new CliRunner.Run(code, "", err.toString()), 1, "out of memory (Java heap space)");
    }

    private static void assertNoControlCharacters(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            assertFalse(Character.isISOControl(c) && c != '\n', "control character U+%04X at %d".formatted((int) c, i));
        }
    }

    static void assertOneLineError(CliRunner.Run run, int exitCode, String mention) {
        assertAll(
                () -> assertEquals(exitCode, run.exitCode(), run.err()),
                () -> assertTrue(run.err().contains(mention), "stderr should mention " + mention + ": " + run.err()),
                () -> assertFalse(run.err().contains("\tat "), "no stack trace: " + run.err()),
                () -> assertFalse(run.err().contains("Exception"), "no exception names: " + run.err()),
                () -> assertFalse(run.err().contains("internal error"), "no internal error: " + run.err()));
    }
}
