package dev.winnow.tensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/** The kernels of every computable type against the test's own scalar decoding of the raw bytes (see {@link KernelReference}). */
class TensorKernelsTest {

    @Provide
    Arbitrary<GgmlType> types() {
        return Arbitraries.of(KernelReference.TYPES);
    }

    @Property(tries = 100)
    void dequantizeRowDecodesEveryValueExactly(@ForAll("types") GgmlType type, @ForAll @IntRange(min = 1, max = 40) int rows,
                                              @ForAll @IntRange(max = 5) int outOffset, @ForAll long seed) {
        int cols = KernelReference.randomCols(type, new Random(seed));
        KernelReference.checkDequantize(type, rows, cols, outOffset, seed);
    }

    @Property(tries = 100)
    void dotRowMatchesTheExactDotProduct(@ForAll("types") GgmlType type, @ForAll @IntRange(min = 1, max = 40) int rows,
                                        @ForAll @IntRange(max = 5) int xOffset, @ForAll long seed) {
        int cols = KernelReference.randomCols(type, new Random(seed));
        KernelReference.checkDot(type, rows, cols, xOffset, seed);
    }

    /** The row length of stories260K's ffn_down (FFN width 172): vector body plus a tail at every width. */
    @Example
    void rowsOf172ValuesWork() {
        for (GgmlType type : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.BF16}) {
            KernelReference.checkDequantize(type, 3, 172, 1, 172);
            KernelReference.checkDot(type, 3, 172, 1, 172);
        }
    }

    /** Every tail length of every vector width up to 512 bits, for the plain types. */
    @Example
    void everyShortRowLengthWorks() {
        for (GgmlType type : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.BF16}) {
            for (int cols = 0; cols <= 70; cols++) {
                KernelReference.checkDequantize(type, 2, cols, 0, cols);
                KernelReference.checkDot(type, 2, cols, 0, cols);
            }
        }
    }

    /** matVec with offsets writes exactly its rows' products where it is told, and nothing around them. */
    @Property(tries = 30)
    void matVecComputesEveryRowsDot(@ForAll("types") GgmlType type, @ForAll @IntRange(min = 1, max = 4) int threads,
                                    @ForAll @IntRange(min = 1, max = 40) int rows, @ForAll long seed) {
        Random r = new Random(seed);
        int cols = KernelReference.randomCols(type, r);
        MemorySegment s = KernelReference.randomTensor(type, rows, cols, r);
        FloatTensor t = FloatTensor.of(type, s, rows, cols);
        float[] x = KernelReference.randomVector(cols + 2, r);
        float[] out = new float[rows + 3];
        try (WorkerPool pool = new WorkerPool(threads)) {
            t.matVec(x, 2, out, 1, pool);
        }
        assertEquals(0f, out[0]);
        for (int row = 0; row < rows; row++) {
            double[] w = KernelReference.decodeRow(type, s, row, cols);
            double exact = 0;
            double magnitude = 0;
            for (int i = 0; i < cols; i++) {
                exact += w[i] * x[2 + i];
                magnitude += Math.abs(w[i] * x[2 + i]);
            }
            assertTrue(Math.abs(out[row + 1] - exact) <= (cols + 4) * Math.scalb(1.0, -23) * magnitude,
                    "row " + row + ": " + out[row + 1] + " vs " + exact);
        }
        assertEquals(0f, out[rows + 1]);
        assertEquals(0f, out[rows + 2]);
    }

    /**
     * Products of several matrices with one input block made together give each matrix's own matMul to the bit,
     * whatever the types, the rows, the block (a single vector, row groups, tiles; small products run inline,
     * large ones are cut into pieces across the matrices' borders) and the threads.
     */
    @Property(tries = 40)
    void matricesMultipliedTogetherGiveTheirOwnProducts(@ForAll @IntRange(min = 1, max = 3) int matrices,
                                                         @ForAll @IntRange(min = 1, max = 20) int batch,
                                                         @ForAll @IntRange(min = 1, max = 4) int threads, @ForAll long seed) {
        Random r = new Random(seed);
        int cols = 256 * r.nextInt(1, 5);
        FloatTensor[] tensors = new FloatTensor[matrices];
        float[][] together = new float[matrices][];
        for (int m = 0; m < matrices; m++) {
            GgmlType type = KernelReference.TYPES[r.nextInt(KernelReference.TYPES.length)];
            int rows = r.nextInt(1, 200);
            tensors[m] = FloatTensor.of(type, KernelReference.randomTensor(type, rows, cols, r), rows, cols);
            together[m] = new float[batch * rows];
        }
        float[] x = KernelReference.randomVector(batch * cols, r);
        try (WorkerPool pool = new WorkerPool(threads)) {
            FloatTensor.matMuls(x, batch, tensors, together, pool);
            for (int m = 0; m < matrices; m++) {
                float[] alone = new float[batch * tensors[m].rows()];
                tensors[m].matMul(x, alone, batch, pool);
                assertArrayEquals(alone, together[m], "matrix " + m + " of " + matrices + ", " + tensors[m].type());
            }
        }
    }

    @Example
    void matricesMultipliedTogetherNeedAnOutputEach() {
        FloatTensor t = FloatTensor.of(GgmlType.F32, MemorySegment.ofArray(new float[64]), 2, 32);
        try (WorkerPool pool = new WorkerPool(2)) {
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> FloatTensor.matMuls(new float[32], 1, new FloatTensor[] {t, t}, new float[][] {new float[2]}, pool)),
                    "2 matrices but 1 outputs");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> FloatTensor.matMuls(new float[31], 1, new FloatTensor[] {t}, new float[][] {new float[2]}, pool)),
                    "input");
        }
    }

    /**
     * The prompt-block product against exact double dot products: 1 to 19 rows (whole 6-row tiles and the rows
     * left over), 1 to 10 vectors (whole 4-token tiles, leftovers, and the single vector of a decode step),
     * 1 to 4 threads.
     */
    @Property(tries = 60)
    void matMulMatchesTheExactProducts(@ForAll("types") GgmlType type, @ForAll @IntRange(min = 1, max = 19) int rows,
                                       @ForAll @IntRange(min = 1, max = 10) int batch,
                                       @ForAll @IntRange(min = 1, max = 4) int threads, @ForAll long seed) {
        int cols = KernelReference.randomCols(type, new Random(seed));
        KernelReference.checkProducts(type, rows, cols, batch, threads, seed);
    }

    /** A block as large as the engine's (32 tokens) on rows long enough to be split across the workers. */
    @Example
    void aFullPromptBlockIsMultipliedInParallel() {
        for (GgmlType type : KernelReference.TYPES) {
            KernelReference.checkProducts(type, 37, 512, 32, 3, 37);
        }
    }

    /**
     * Every block size a decode step can have and every size the row groups take 8 vectors at a time (up to 16,
     * and 17, the first the tiled product takes), on an odd number of rows (a last row without a pair), 1 to 3
     * threads.
     */
    @Example
    void smallBlocksOfEverySizeMatchTheirVectorsAlone() {
        for (GgmlType type : KernelReference.TYPES) {
            for (int batch = 1; batch <= FloatTensor.GROUPED_BLOCK + 1; batch++) {
                KernelReference.checkProducts(type, 23, 4 * 64, batch, 1 + batch % 3, 100 + batch);
            }
        }
    }

    @Example
    void matMulRefusesBlocksThatDoNotFit() {
        FloatTensor t = FloatTensor.of(GgmlType.Q8_0, MemorySegment.ofArray(new byte[34 * 2]), 2, 32);
        try (WorkerPool pool = new WorkerPool(2)) {
            assertMessage(assertThrows(IllegalArgumentException.class, () -> t.matMul(new float[64], new float[4], -1, pool)),
                    "block of -1 vectors");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> t.matMul(new float[95], new float[6], 3, pool)),
                    "input");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> t.matMul(new float[96], new float[5], 3, pool)),
                    "output");
        }
    }

    /**
     * dequantizeRow and dotRow read the bytes as they are now, also after a product made a packed copy: KV pages
     * are rewritten in place and read this way.
     */
    @Example
    void singleRowsSeeBytesRewrittenAfterAProduct() {
        for (GgmlType type : KernelReference.TYPES) {
            Random r = new Random(type.ordinal());
            MemorySegment bytes = KernelReference.randomTensor(type, 4, 256, r);
            MemorySegment rewritten = KernelReference.randomTensor(type, 4, 256, r);
            FloatTensor t = FloatTensor.of(type, bytes, 4, 256);
            FloatTensor expected = FloatTensor.of(type, rewritten, 4, 256);
            float[] x = KernelReference.randomVector(256, r);
            try (WorkerPool pool = new WorkerPool(1)) {
                t.matVec(x, new float[4], pool);
            }
            MemorySegment.copy(rewritten, 0, bytes, 0, bytes.byteSize());
            assertRowsMatch(t, expected, x, type);
        }
    }

    /** Every row of t dequantizes and dots with x exactly as the same row of reference does. */
    private static void assertRowsMatch(FloatTensor t, FloatTensor reference, float[] x, GgmlType type) {
        float[] row = new float[t.cols()];
        float[] expected = new float[t.cols()];
        for (int r = 0; r < t.rows(); r++) {
            t.dequantizeRow(r, row, 0);
            reference.dequantizeRow(r, expected, 0);
            assertArrayEquals(expected, row, type + " row " + r);
            assertEquals(reference.dotRow(r, x, 0), t.dotRow(r, x, 0), type + " row " + r);
        }
    }

    /**
     * Products of a memory-mapped tensor read a packed copy and hand the mapped pages back to the OS; single
     * rows are still read from the file, correctly.
     */
    @Example
    void mappedTensorsStillReadTheirRowsAfterAProduct() throws IOException {
        Path file = Files.createTempFile("winnow-kernels", ".bin");
        try {
            for (GgmlType type : KernelReference.TYPES) {
                MemorySegment heap = KernelReference.randomTensor(type, 9, 256, new Random(type.ordinal()));
                Files.write(file, heap.toArray(ValueLayout.JAVA_BYTE));
                try (Arena arena = Arena.ofShared(); FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
                     WorkerPool pool = new WorkerPool(2)) {
                    MemorySegment mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, heap.byteSize(), arena);
                    FloatTensor t = FloatTensor.of(type, mapped, 9, 256);
                    FloatTensor reference = FloatTensor.of(type, heap, 9, 256);
                    float[] x = KernelReference.randomVector(256, new Random(1));
                    float[] out = new float[9];
                    t.matVec(x, out, pool);
                    assertRowsMatch(t, reference, x, type);
                }
            }
        } finally {
            Files.delete(file);
        }
    }

    /** Memory-mapped files give native segments: the kernels read those as well as heap ones. */
    @Property(tries = 20)
    void nativeSegmentsGiveTheSameResults(@ForAll("types") GgmlType type, @ForAll long seed) {
        Random r = new Random(seed);
        int cols = KernelReference.randomCols(type, r);
        MemorySegment heap = KernelReference.randomTensor(type, 3, cols, r);
        float[] x = KernelReference.randomVector(cols, r);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment offHeap = arena.allocate(heap.byteSize() + 1).asSlice(1); // deliberately unaligned
            offHeap.copyFrom(heap);
            FloatTensor a = FloatTensor.of(type, heap, 3, cols);
            FloatTensor b = FloatTensor.of(type, offHeap, 3, cols);
            for (int row = 0; row < 3; row++) {
                assertEquals(a.dotRow(row, x, 0), b.dotRow(row, x, 0));
            }
        }
    }

    @Example
    void typesAndShapesAreReported() {
        for (GgmlType type : KernelReference.TYPES) {
            int cols = Math.max(64, type.blockSize());
            FloatTensor t = FloatTensor.of(type, MemorySegment.ofArray(new byte[(int) type.rowBytes(cols) * 2]), 2, cols);
            assertEquals(type, t.type());
            assertEquals(2, t.rows());
            assertEquals(cols, t.cols());
        }
    }

    @Example
    void badShapesAndArgumentsAreRefusedWithAReason() {
        MemorySegment small = MemorySegment.ofArray(new byte[34]);
        assertMessage(assertThrows(IllegalArgumentException.class, () -> FloatTensor.of(GgmlType.Q8_0, small, 2, 32)), "needs 68 bytes");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> FloatTensor.of(GgmlType.Q4_0, small, 1, 33)), "whole number");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> FloatTensor.of(GgmlType.F32, small, -1, 2)), "negative");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> FloatTensor.of(GgmlType.Q2_K, small, 1, 256)), "not supported");

        FloatTensor t = FloatTensor.of(GgmlType.Q8_0, small, 1, 32);
        assertMessage(assertThrows(IllegalArgumentException.class, () -> t.dotRow(1, new float[32], 0)), "row 1 is outside");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> t.dotRow(-1, new float[32], 0)), "row -1 is outside");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> t.dotRow(0, new float[32], 1)), "no room for 32 values at offset 1");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> t.dequantizeRow(0, new float[31], 0)), "no room");
        try (WorkerPool pool = new WorkerPool(1)) {
            assertMessage(assertThrows(IllegalArgumentException.class, () -> t.matVec(new float[32], new float[0], pool)), "output");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> t.matVec(new float[16], new float[1], pool)), "input");
        }
    }

    private static void assertMessage(Exception e, String fragment) {
        assertTrue(e.getMessage().contains(fragment), () -> "message '" + e.getMessage() + "' lacks '" + fragment + "'");
    }
}
