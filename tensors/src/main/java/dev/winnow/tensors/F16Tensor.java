package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.FLOAT;
import static dev.winnow.tensors.Vectors.LANES;
import static dev.winnow.tensors.Vectors.LE;
import static dev.winnow.tensors.Vectors.LE_SHORT;
import static dev.winnow.tensors.Vectors.SHORT;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/** IEEE half-precision values, little-endian. */
public final class F16Tensor extends FloatTensor {
    private static final int VALUE_BYTES = 2;

    public F16Tensor(MemorySegment data, int rows, int cols) {
        super(GgmlType.F16, data, rows, cols);
    }

    @Override
    public GgmlType type() {
        return GgmlType.F16;
    }

    @Override
    public float dotRow(int row, float[] x, int xOffset) {
        long rowStart = rowStart(row, x, xOffset);
        FloatVector sum = FloatVector.zero(FLOAT);
        int i = 0;
        for (int vectorEnd = cols - LANES; i <= vectorEnd; i += LANES) {
            sum = load(rowStart + (long) i * VALUE_BYTES).fma(FloatVector.fromArray(FLOAT, x, xOffset + i), sum);
        }
        return withTail(sum, rowStart, i, x, xOffset);
    }

    @Override
    float productDot(int row, float[] x, int xOffset) {
        return dotRow(row, x, xOffset);
    }

    /** Four rows at once, a vector of each per step: four memory streams (see {@link FloatTensor#STREAMS}). */
    @Override
    void productDots(int row, int stride, float[] x, int xOffset, float[] out, int outOffset) {
        long start0 = row * rowBytes;
        long start1 = (row + stride) * rowBytes;
        long start2 = (row + 2L * stride) * rowBytes;
        long start3 = (row + 3L * stride) * rowBytes;
        FloatVector sum0 = FloatVector.zero(FLOAT);
        FloatVector sum1 = sum0;
        FloatVector sum2 = sum0;
        FloatVector sum3 = sum0;
        int i = 0;
        for (int vectorEnd = cols - LANES; i <= vectorEnd; i += LANES) {
            FloatVector xs = FloatVector.fromArray(FLOAT, x, xOffset + i);
            long at = (long) i * VALUE_BYTES;
            sum0 = load(start0 + at).fma(xs, sum0);
            sum1 = load(start1 + at).fma(xs, sum1);
            sum2 = load(start2 + at).fma(xs, sum2);
            sum3 = load(start3 + at).fma(xs, sum3);
        }
        out[outOffset + row] = withTail(sum0, start0, i, x, xOffset);
        out[outOffset + row + stride] = withTail(sum1, start1, i, x, xOffset);
        out[outOffset + row + 2 * stride] = withTail(sum2, start2, i, x, xOffset);
        out[outOffset + row + 3 * stride] = withTail(sum3, start3, i, x, xOffset);
    }

    /** The lanes of a row's running sum added up, plus the products of its values from {@code from} on, which fill no vector. */
    private float withTail(FloatVector sum, long rowStart, int from, float[] x, int xOffset) {
        float total = Vectors.sum(sum);
        for (int i = from; i < cols; i++) {
            total += scalar(rowStart + (long) i * VALUE_BYTES) * x[xOffset + i];
        }
        return total;
    }

    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        decode(data, rowStart(row, out, outOffset), out, outOffset, cols);
    }

    /** Converts the {@code n} values stored at {@code data[start ..]} into out[outOffset ..] (bounds checked by the caller). */
    static void decode(MemorySegment data, long start, float[] out, int outOffset, int n) {
        int i = 0;
        for (int vectorEnd = n - LANES; i <= vectorEnd; i += LANES) {
            load(data, start + (long) i * VALUE_BYTES).intoArray(out, outOffset + i);
        }
        for (; i < n; i++) {
            out[outOffset + i] = scalar(data, start + (long) i * VALUE_BYTES);
        }
    }

    private FloatVector load(long byteOffset) {
        return load(data, byteOffset);
    }

    private static FloatVector load(MemorySegment data, long byteOffset) {
        return Vectors.halfToFloat(Vectors.widen(ShortVector.fromMemorySegment(SHORT, data, byteOffset, LE)));
    }

    private float scalar(long byteOffset) {
        return scalar(data, byteOffset);
    }

    private static float scalar(MemorySegment data, long byteOffset) {
        return Float.float16ToFloat(data.get(LE_SHORT, byteOffset));
    }
}
