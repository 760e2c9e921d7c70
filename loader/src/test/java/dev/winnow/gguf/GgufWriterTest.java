package dev.winnow.gguf;

import dev.winnow.tensors.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GgufWriterTest {
    @TempDir
    Path dir;

    private static MemorySegment counting(int bytes) {
        byte[] data = new byte[bytes];
        for (int i = 0; i < bytes; i++) {
            data[i] = (byte) (i * 7 + 3);
        }
        return MemorySegment.ofArray(data);
    }

    private static GgufWriter sample() {
        return new GgufWriter()
                .putString("general.architecture", "llama")
                .putUInt32("llama.embedding_length", 64)
                .putFloat32("llama.rope.freq_base", 10000f)
                .putBool("tokenizer.ggml.add_bos_token", true)
                .putArray("tokenizer.ggml.tokens", GgufArray.ofStrings("<unk>", "<s>", "é", "😀"))
                .addTensor("token_embd.weight", GgmlType.F16, new long[] {4, 3}, counting(24))
                .addTensor("blk.0.attn_q.weight", GgmlType.Q8_0, new long[] {64, 2}, counting(4 * 34))
                .addTensor("output_norm.weight", GgmlType.F32, new long[] {5}, counting(20));
    }

    private List<Path> filesInDir() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.sorted().toList();
        }
    }

    @Test
    void writtenFileReadsBack() throws IOException {
        GgufWriter writer = sample();
        Path file = dir.resolve("model.gguf");
        writer.write(file);
        try (GgufFile gguf = GgufFile.open(file)) {
            assertEquals(3, gguf.version());
            assertEquals(32, gguf.alignment());
            assertEquals(0, gguf.dataOffset() % 32);
            assertEquals(Files.size(file), gguf.fileSize());
            assertEquals(List.copyOf(writer.metadata().asMap().entrySet()), List.copyOf(gguf.metadata().asMap().entrySet()));
            assertFalse(gguf.metadata().contains(GgufMetadata.ALIGNMENT_KEY));
            assertEquals(writer.tensors(), gguf.tensors());
            GgufTensorInfo q = gguf.tensor("blk.0.attn_q.weight").orElseThrow();
            assertEquals(List.of(64L, 2L), List.of(q.shape()[0], q.shape()[1]));
            assertEquals(GgmlType.Q8_0, q.type());
            assertEquals(128, q.elementCount());
            assertEquals(136, q.byteSize());
            assertArrayEquals(counting(136).toArray(ValueLayout.JAVA_BYTE), gguf.tensorData(q).toArray(ValueLayout.JAVA_BYTE));
            for (GgufTensorInfo info : gguf.tensors()) {
                assertEquals(0, info.offset() % 32);
            }
            assertEquals("😀", gguf.metadata().require("tokenizer.ggml.tokens").asArray().strings()[3]);
        }
        assertEquals(List.of(file), filesInDir());
    }

    @Test
    void alignmentOtherThan32IsWrittenAsMetadata() throws IOException {
        Path file = dir.resolve("aligned.gguf");
        sample().alignment(256).write(file);
        try (GgufFile gguf = GgufFile.open(file)) {
            assertEquals(256, gguf.alignment());
            assertEquals(GgufValue.ofUInt32(256), gguf.metadata().require(GgufMetadata.ALIGNMENT_KEY));
            assertEquals(0, gguf.dataOffset() % 256);
            for (GgufTensorInfo info : gguf.tensors()) {
                assertEquals(0, info.offset() % 256);
            }
        }
        assertFalse(new GgufWriter().alignment(32).metadata().contains(GgufMetadata.ALIGNMENT_KEY));
        assertEquals(GgufValue.ofUInt32(32), new GgufWriter().alignment(64).alignment(32).metadata()
                .require(GgufMetadata.ALIGNMENT_KEY), "a key already present keeps its place and takes the value");
    }

    @Test
    void copyingAFileGivesTheSameBytes() throws IOException {
        Path original = dir.resolve("original.gguf");
        sample().alignment(64).write(original);
        Path copy = dir.resolve("copy.gguf");
        try (GgufFile source = GgufFile.open(original)) {
            GgufWriter writer = new GgufWriter().putAll(source.metadata());
            for (GgufTensorInfo info : source.tensors()) {
                writer.addTensor(info.name(), info.type(), info.shape(), source.tensorData(info));
            }
            writer.write(copy);
        }
        assertArrayEquals(Files.readAllBytes(original), Files.readAllBytes(copy));
    }

    @Test
    void aFileWithoutTensorsEndsAtTheAlignedDataStart() throws IOException {
        Path file = dir.resolve("vocab.gguf");
        new GgufWriter().putString("tokenizer.ggml.model", "gpt2").write(file);
        try (GgufFile gguf = GgufFile.open(file)) {
            assertTrue(gguf.tensors().isEmpty());
            assertEquals(gguf.dataOffset(), gguf.fileSize());
            assertEquals(0, gguf.fileSize() % 32);
        }
    }

    @Test
    void writeReplacesAnExistingFileAndLeavesNothingBehind() throws IOException {
        Path file = Files.writeString(dir.resolve("model.gguf"), "old contents");
        sample().write(file);
        try (GgufFile gguf = GgufFile.open(file)) {
            assertEquals(3, gguf.tensors().size());
        }
        assertEquals(List.of(file), filesInDir());
    }

    @Test
    void aFailedWriteLeavesTheOldFileAndNoTemporaryFile() throws IOException {
        Path file = Files.writeString(dir.resolve("model.gguf"), "old contents");
        GgufWriter failing = sample().addTensor("broken", GgmlType.F32, new long[] {4}, destination -> {
            throw new IOException("disk on fire");
        });
        assertEquals("disk on fire", assertThrows(IOException.class, () -> failing.write(file)).getMessage());
        assertEquals("old contents", Files.readString(file));
        assertEquals(List.of(file), filesInDir());
    }

    @Test
    void invalidUnicodeIsRefusedBeforeAnyFileIsMade() throws IOException {
        Path file = dir.resolve("bad.gguf");
        GgufWriter writer = new GgufWriter().putString("general.name", "half a pair \uD83D");
        assertEquals("a string in 'general.name' is not valid Unicode",
                assertThrows(IllegalArgumentException.class, () -> writer.write(file)).getMessage());
        assertEquals(List.of(), filesInDir());
    }

    @Test
    void writingIntoAMissingDirectoryFails() {
        Path file = dir.resolve("no-such-dir").resolve("model.gguf");
        assertThrows(NoSuchFileException.class, () -> sample().write(file));
    }

    @Test
    void badArgumentsAreRefused() {
        GgufWriter writer = sample();
        assertEquals("general.alignment must be a UINT32, not INT32", assertThrows(IllegalArgumentException.class,
                () -> writer.putInt32(GgufMetadata.ALIGNMENT_KEY, 64)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> writer.alignment(48));
        assertThrows(IllegalArgumentException.class, () -> writer.alignment(0));
        assertEquals("tensor 'x' of F32 [4] takes 16 bytes, but the data has 15", assertThrows(
                IllegalArgumentException.class,
                () -> writer.addTensor("x", GgmlType.F32, new long[] {4}, counting(15))).getMessage());
        assertEquals("tensor 'output_norm.weight' is already added", assertThrows(IllegalArgumentException.class,
                () -> writer.addTensor("output_norm.weight", GgmlType.F32, new long[] {5}, counting(20))).getMessage());
        assertEquals("tensor 'q': row of 40 elements is not a whole number of Q4_0 blocks of 32", assertThrows(
                IllegalArgumentException.class,
                () -> writer.addTensor("q", GgmlType.Q4_0, new long[] {40}, counting(0))).getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> writer.addTensor("e", GgmlType.F32, new long[] {4, 0}, counting(0)));
        assertThrows(IllegalArgumentException.class,
                () -> writer.addTensor("five", GgmlType.F32, new long[] {1, 1, 1, 1, 1}, counting(4)));
    }

    @Test
    void openingSomethingThatIsNotAFileIsAnIOException() {
        assertThrows(NoSuchFileException.class, () -> GgufFile.open(dir.resolve("missing.gguf")));
        // A directory cannot be mapped: an I/O problem, not a format problem.
        assertThrows(IOException.class, () -> GgufFile.open(dir));
    }

    @Test
    void slicesAreReadOnlyAndDieWithTheFile() throws IOException {
        Path file = dir.resolve("model.gguf");
        sample().write(file);
        GgufFile gguf = GgufFile.open(file);
        GgufTensorInfo norm = gguf.tensor("output_norm.weight").orElseThrow();
        MemorySegment data = gguf.tensorData(norm);
        assertTrue(data.isReadOnly());
        assertThrows(IllegalArgumentException.class, () -> data.set(ValueLayout.JAVA_BYTE, 0, (byte) 1));
        GgufTensorInfo foreign = new GgufTensorInfo("output_norm.weight", new long[] {5}, GgmlType.F32, 4096);
        assertThrows(IllegalArgumentException.class, () -> gguf.tensorData(foreign));
        gguf.close();
        gguf.close();
        assertThrows(IllegalStateException.class, () -> data.get(ValueLayout.JAVA_BYTE, 0));
        assertThrows(IllegalStateException.class, () -> gguf.tensorData(norm));
    }
}
