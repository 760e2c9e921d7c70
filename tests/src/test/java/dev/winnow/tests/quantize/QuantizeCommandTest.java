package dev.winnow.tests.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import dev.winnow.gguf.GgufArray;
import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufTensorInfo;
import dev.winnow.gguf.GgufWriter;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tensors.Quantize;
import dev.winnow.tests.SharedFiles;
import dev.winnow.tests.cli.CliRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code winnow quantize}: on stories260K it writes exactly the tensors of the Q8_0 and Q4_0 files made by ggml's
 * reference quantizer (matrices quantized, the ffn_down rows of 172 values as F16, norms as F32), and the result
 * generates the same tokens as those files; K-quant output round-trips through the encoders; bad arguments end
 * with one line.
 */
class QuantizeCommandTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource({"q8_0, stories260K-q8_0.gguf, 7", "q4_0, stories260K-q4_0.gguf, 2"})
    void reproducesTheReferenceQuantizedFiles(String type, String referenceName, int fileType, @TempDir Path dir)
            throws IOException {
        Path f32 = SharedFiles.requireShared("models/stories260K-f32.gguf");
        Path reference = SharedFiles.requireShared("models/" + referenceName);
        Path out = dir.resolve("out.gguf");
        CliRunner.Run run = CliRunner.run("quantize", f32.toString(), out.toString(), "--type", type, "-t", "2");
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("winnow: quantize 100% "), "progress on stderr: " + run.err());
        try (GgufFile ours = GgufFile.open(out); GgufFile theirs = GgufFile.open(reference)) {
            assertEquals(theirs.tensors().size(), ours.tensors().size());
            for (GgufTensorInfo expected : theirs.tensors()) {
                GgufTensorInfo actual = ours.tensor(expected.name()).orElseThrow();
                assertEquals(expected.type(), actual.type(), expected.name());
                assertArrayEquals(expected.shape(), actual.shape(), expected.name());
                long mismatch = ours.tensorData(actual).mismatch(theirs.tensorData(expected));
                assertEquals(-1L, mismatch, () -> expected.name() + " differs at byte " + mismatch);
            }
            assertEquals(fileType, ours.metadata().require("general.file_type").asInt());
            assertEquals(theirs.metadata().require("tokenizer.ggml.tokens").asArray().size(),
                    ours.metadata().require("tokenizer.ggml.tokens").asArray().size());
        }
        assertEquals(greedy(reference, 40), greedy(out, 40), "the quantized model generates as the reference file");
    }

    /** Stories260K's rows (64 and 172 values) are not whole K-quant blocks: every matrix becomes F16, and it runs. */
    @Test
    void kQuantsKeepShortRowsInHalfPrecision(@TempDir Path dir) throws IOException {
        Path f32 = SharedFiles.requireShared("models/stories260K-f32.gguf");
        Path out = dir.resolve("q4_k.gguf");
        CliRunner.Run run = CliRunner.run("quantize", f32.toString(), out.toString(), "--type", "q4_k");
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("winnow: warning: 36 of 36 matrices are written as F16, not Q4_K: their rows "
                + "(64, 172 values) are not whole Q4_K blocks of 256 values (token_embd.weight, "), run.err());
        try (GgufFile ours = GgufFile.open(out)) {
            for (GgufTensorInfo t : ours.tensors()) {
                assertEquals(t.dimensions() == 1 ? GgmlType.F32 : GgmlType.F16, t.type(), t.name());
            }
            assertEquals(14, ours.metadata().require("general.file_type").asInt());
        }
        greedy(out, 20);
    }

    /** Rows of 512 values: matrices are written by the Q4_K / Q6_K encoders, vectors stay F32. */
    @ParameterizedTest
    @CsvSource({"q4_k, Q4_K", "q6_k, Q6_K"})
    void kQuantsEncodeWholeBlockRows(String typeName, GgmlType type, @TempDir Path dir) throws IOException {
        Random random = new Random(7);
        float[] matrix = new float[3 * 512];
        float[] norm = new float[512];
        for (int i = 0; i < matrix.length; i++) {
            matrix[i] = (float) random.nextGaussian();
        }
        for (int i = 0; i < norm.length; i++) {
            norm[i] = 1 + (float) random.nextGaussian() / 10;
        }
        Path in = dir.resolve("in.gguf");
        new GgufWriter().putString("general.architecture", "test")
                .putArray("some.array", GgufArray.ofInt32s(1, 2, 3))
                .addTensor("matrix", GgmlType.F32, new long[] {512, 3}, MemorySegment.ofArray(matrix))
                .addTensor("norm", GgmlType.F32, new long[] {512}, MemorySegment.ofArray(norm))
                .write(in);
        Path out = dir.resolve("out.gguf");
        CliRunner.Run run = CliRunner.run("quantize", in.toString(), out.toString(), "--type", typeName);
        assertEquals(0, run.exitCode(), run.err());
        MemorySegment expected = MemorySegment.ofArray(new byte[(int) type.rowBytes(512) * 3]);
        for (int row = 0; row < 3; row++) {
            Quantize.quantize(type, matrix, row * 512, 512, expected, row * type.rowBytes(512));
        }
        try (GgufFile ours = GgufFile.open(out)) {
            GgufTensorInfo m = ours.tensor("matrix").orElseThrow();
            assertEquals(type, m.type());
            assertEquals(-1L, ours.tensorData(m).mismatch(expected));
            GgufTensorInfo n = ours.tensor("norm").orElseThrow();
            assertEquals(GgmlType.F32, n.type());
            assertArrayEquals(norm, ours.tensorData(n).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN)));
            assertEquals(3, ours.metadata().require("some.array").asArray().size());
        }
    }

    @Test
    void badArgumentsEndWithOneLine(@TempDir Path dir) throws IOException {
        Path in = dir.resolve("in.gguf");
        new GgufWriter().putString("general.architecture", "test").write(in);
        CliRunner.Run badType = CliRunner.run("quantize", in.toString(), dir.resolve("o.gguf").toString(), "--type", "q3_k");
        assertEquals(2, badType.exitCode());
        assertTrue(badType.err().contains("--type must be one of q8_0, q4_0, q4_k, q6_k, got 'q3_k'"), badType.err());
        CliRunner.Run missing = CliRunner.run("quantize", dir.resolve("absent.gguf").toString(),
                dir.resolve("o.gguf").toString(), "--type", "q8_0");
        assertEquals(1, missing.exitCode());
        assertTrue(missing.err().startsWith("winnow: file not found:") && missing.err().strip().lines().count() == 1,
                missing.err());
        CliRunner.Run same = CliRunner.run("quantize", in.toString(), in.toString(), "--type", "q8_0");
        assertEquals(1, same.exitCode());
        assertTrue(same.err().contains("the output file is the input file"), same.err());
        assertFalse(Files.exists(dir.resolve("o.gguf")));
    }

    /** What {@code winnow generate} prints for a greedy continuation of "Once upon a time". */
    private static String greedy(Path modelPath, int tokens) {
        CliRunner.Run run = CliRunner.run("generate", "-m", modelPath.toString(), "-p", "Once upon a time",
                "-n", Integer.toString(tokens), "--temperature", "0", "-t", "2");
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().length() > "Once upon a time".length(), "generated nothing: " + run.out());
        return run.out();
    }
}
