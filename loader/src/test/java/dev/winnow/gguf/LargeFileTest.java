package dev.winnow.gguf;

import dev.winnow.tensors.GgmlType;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Offsets past 2^31 bytes. The writer fills tensors through a mapping of the output file, so a tensor that writes
 * only its last value leaves the rest of the file unwritten (sparse): the file is over 2 GiB but takes a few pages.
 */
class LargeFileTest {
    private static final long BIG_ELEMENTS = (1L << 29) + 64; // F32: 2 GiB + 256 bytes

    @TempDir
    Path dir;

    @Test
    void tensorDataPastTwoGibibytes() throws IOException {
        long needed = 2 * BIG_ELEMENTS * Float.BYTES; // room even where the file system cannot leave holes
        long usable = Files.getFileStore(dir).getUsableSpace();
        if (usable < needed) {
            String reason = "skipped: %s has %d bytes free; a file system without sparse files would need %d"
                    .formatted(dir, usable, needed);
            System.err.println(reason);
            Assumptions.abort(reason);
        }
        Path file = dir.resolve("big.gguf");
        try {
            new GgufWriter()
                    .putString("general.name", "big")
                    .addTensor("small", GgmlType.F32, new long[] {4}, MemorySegment.ofArray(new float[] {1, 2, 3, 4}))
                    .addTensor("big", GgmlType.F32, new long[] {BIG_ELEMENTS},
                            destination -> destination.set(GgufReader.F32, destination.byteSize() - 4, 1234.5f))
                    .addTensor("after", GgmlType.F32, new long[] {2}, destination -> {
                        destination.set(GgufReader.F32, 0, -7f);
                        destination.set(GgufReader.F32, 4, 8.25f);
                    })
                    .write(file);
            assertTrue(Files.size(file) > (1L << 31) + 256, "file size " + Files.size(file));
            try (GgufFile gguf = GgufFile.open(file)) {
                GgufTensorInfo big = gguf.tensor("big").orElseThrow();
                MemorySegment bigData = gguf.tensorData(big);
                assertEquals(BIG_ELEMENTS * 4, bigData.byteSize());
                assertEquals(1234.5f, bigData.get(GgufReader.F32, bigData.byteSize() - 4));
                assertEquals(0f, bigData.get(GgufReader.F32, 1L << 31));
                GgufTensorInfo after = gguf.tensor("after").orElseThrow();
                assertTrue(gguf.dataOffset() + after.offset() > 1L << 31, "after starts at " + after.offset());
                MemorySegment afterData = gguf.tensorData(after);
                assertEquals(-7f, afterData.get(GgufReader.F32, 0));
                assertEquals(8.25f, afterData.get(GgufReader.F32, 4));
                assertEquals(3f, gguf.tensorData(gguf.tensor("small").orElseThrow()).get(GgufReader.F32, 8));
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
