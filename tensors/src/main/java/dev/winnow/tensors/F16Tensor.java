package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.FLOAT;
import static dev.winnow.tensors.Vectors.LANES;
import static dev.winnow.tensors.Vectors.LE_SHORT;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

import jdk.incubator.vector.FloatVector;

/**
 * IEEE half-precision values, little-endian.
 *
 * <p>Halves become floats through {@link #toFloats}, a plain loop of {@link Float#float16ToFloat}: the JIT turns it
 * into the processor's own conversion instruction, a vector at a time (x86's F16C {@code vcvtph2ps}), which
 * the Vector API of JDK 25 has no operator for; it beat converting in Vector API integer operations by 1.5-2x
 * ({@code HalfConversionBenchmark}, docs/performance.md). The products therefore convert a chunk of each row
 * into a buffer first and multiply from there.
 */
public final class F16Tensor extends FloatTensor {
    private static final int VALUE_BYTES = 2;

    /**
     * Columns converted at a time by a matrix-vector product: the {@link FloatTensor#STREAMS} rows' chunks (8 KiB
     * of floats) stay in the first-level cache between the conversion and the multiply-adds.
     */
    private static final int CHUNK = 512;

    public F16Tensor(MemorySegment data, int rows, int cols) {
        super(GgmlType.F16, data, rows, cols);
    }

    @Override
    public GgmlType type() {
        return GgmlType.F16;
    }

    /**
     * out[outOffset + i] = the float value of the little-endian half at {@code byteOffset + 2 i} of {@code halves},
     * for i below {@code count}: the bulk conversion of half-precision storage (weights, KV cache pages).
     */
    public static void toFloats(MemorySegment halves, long byteOffset, float[] out, int outOffset, int count) {
        Objects.checkFromIndexSize(outOffset, count, out.length);
        for (int i = 0; i < count; i++) {
            out[outOffset + i] = Float.float16ToFloat(halves.get(LE_SHORT, byteOffset + (long) i * VALUE_BYTES));
        }
    }

    /** out[outOffset + i] = the float value of halves[from + i], for i below {@code count}. */
    public static void toFloats(short[] halves, int from, float[] out, int outOffset, int count) {
        Objects.checkFromIndexSize(from, count, halves.length);
        Objects.checkFromIndexSize(outOffset, count, out.length);
        for (int i = 0; i < count; i++) {
            out[outOffset + i] = Float.float16ToFloat(halves[from + i]);
        }
    }

    /**
     * Four rows at once, a chunk of each converted and then multiplied, vector by vector into one running sum per row
     * ({@link FloatGemm#dot}'s order): four memory streams (see {@link FloatTensor#STREAMS}).
     */
    @Override
    void productDots(int row, int stride, float[] x, int xOffset, float[] out, int outOffset) {
        long start0 = row * rowBytes;
        long start1 = (row + stride) * rowBytes;
        long start2 = (row + 2L * stride) * rowBytes;
        long start3 = (row + 3L * stride) * rowBytes;
        float[] values = ThreadScratch.floats(STREAMS * CHUNK);
        FloatVector sum0 = FloatVector.zero(FLOAT);
        FloatVector sum1 = sum0;
        FloatVector sum2 = sum0;
        FloatVector sum3 = sum0;
        int vectorCols = cols - cols % LANES;
        for (int from = 0; from < vectorCols; from += CHUNK) {
            int count = Math.min(CHUNK, vectorCols - from);
            long at = (long) from * VALUE_BYTES;
            toFloats(data, start0 + at, values, 0, count);
            toFloats(data, start1 + at, values, CHUNK, count);
            toFloats(data, start2 + at, values, 2 * CHUNK, count);
            toFloats(data, start3 + at, values, 3 * CHUNK, count);
            for (int k = 0; k < count; k += LANES) {
                FloatVector xs = FloatVector.fromArray(FLOAT, x, xOffset + from + k);
                sum0 = FloatVector.fromArray(FLOAT, values, k).fma(xs, sum0);
                sum1 = FloatVector.fromArray(FLOAT, values, CHUNK + k).fma(xs, sum1);
                sum2 = FloatVector.fromArray(FLOAT, values, 2 * CHUNK + k).fma(xs, sum2);
                sum3 = FloatVector.fromArray(FLOAT, values, 3 * CHUNK + k).fma(xs, sum3);
            }
        }
        out[outOffset + row] = withTail(sum0, start0, vectorCols, x, xOffset);
        out[outOffset + row + stride] = withTail(sum1, start1, vectorCols, x, xOffset);
        out[outOffset + row + 2 * stride] = withTail(sum2, start2, vectorCols, x, xOffset);
        out[outOffset + row + 3 * stride] = withTail(sum3, start3, vectorCols, x, xOffset);
    }

    /** The lanes of a row's running sum added up, plus the products of its values from {@code from} on, which fill no vector. */
    private float withTail(FloatVector sum, long rowStart, int from, float[] x, int xOffset) {
        float total = Vectors.sum(sum);
        for (int i = from; i < cols; i++) {
            total += Float.float16ToFloat(data.get(LE_SHORT, rowStart + (long) i * VALUE_BYTES)) * x[xOffset + i];
        }
        return total;
    }

    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        toFloats(data, rowStart(row, out, outOffset), out, outOffset, cols);
    }
}
