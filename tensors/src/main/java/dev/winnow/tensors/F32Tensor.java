package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.FLOAT;
import static dev.winnow.tensors.Vectors.LANES;
import static dev.winnow.tensors.Vectors.LE;
import static dev.winnow.tensors.Vectors.LE_FLOAT;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;

/**
 * Little-endian IEEE single-precision values. The products read a copy on the Java heap, made on first use, as the
 * quantized types read their {@link PackedBlocks}: a vector load from a segment pays its checks on every load where an
 * array's are paid once per loop, and on a small model's rows of 64 values that was most of a decode step
 * (docs/performance.md, "Small models' float weights on the heap").
 */
public final class F32Tensor extends FloatTensor {
    private static final int FLOAT_BYTES = 4;

    private volatile float[] values;

    public F32Tensor(MemorySegment data, int rows, int cols) {
        super(GgmlType.F32, data, rows, cols);
    }

    @Override
    public GgmlType type() {
        return GgmlType.F32;
    }

    @Override
    public float dotRow(int row, float[] x, int xOffset) {
        long rowStart = rowStart(row, x, xOffset);
        FloatVector sum = FloatVector.zero(FLOAT);
        int i = 0;
        for (int vectorEnd = cols - LANES; i <= vectorEnd; i += LANES) {
            sum = load(rowStart + (long) i * FLOAT_BYTES).fma(FloatVector.fromArray(FLOAT, x, xOffset + i), sum);
        }
        float total = Vectors.sum(sum);
        for (; i < cols; i++) {
            total += data.get(LE_FLOAT, rowStart + (long) i * FLOAT_BYTES) * x[xOffset + i];
        }
        return total;
    }

    @Override
    void prepareProducts(WorkerPool pool) {
        if (values == null) {
            synchronized (this) {
                if (values == null) {
                    long count = (long) rows * cols;
                    if (count > Integer.MAX_VALUE - 8) {
                        throw new IllegalArgumentException("a %d x %d F32 matrix (%d values) is too large: the limit is 2^31 values per matrix"
                                .formatted(rows, cols, count));
                    }
                    float[] copy = new float[(int) count];
                    MemorySegment.copy(data, LE_FLOAT, 0, copy, 0, copy.length);
                    values = copy;
                    releaseMappedPages();
                }
            }
        }
    }

    @Override
    float productDot(int row, float[] x, int xOffset) {
        return FloatGemm.dot(values, row * cols, x, xOffset, cols);
    }

    /** Four rows at once, a vector of each per step: four memory streams (see {@link FloatTensor#STREAMS}). */
    @Override
    void productDots(int row, int stride, float[] x, int xOffset, float[] out, int outOffset) {
        float[] w = values;
        int start0 = row * cols;
        int start1 = (row + stride) * cols;
        int start2 = (row + 2 * stride) * cols;
        int start3 = (row + 3 * stride) * cols;
        FloatVector sum0 = FloatVector.zero(FLOAT);
        FloatVector sum1 = sum0;
        FloatVector sum2 = sum0;
        FloatVector sum3 = sum0;
        int i = 0;
        for (int vectorEnd = cols - LANES; i <= vectorEnd; i += LANES) {
            FloatVector xs = FloatVector.fromArray(FLOAT, x, xOffset + i);
            sum0 = FloatVector.fromArray(FLOAT, w, start0 + i).fma(xs, sum0);
            sum1 = FloatVector.fromArray(FLOAT, w, start1 + i).fma(xs, sum1);
            sum2 = FloatVector.fromArray(FLOAT, w, start2 + i).fma(xs, sum2);
            sum3 = FloatVector.fromArray(FLOAT, w, start3 + i).fma(xs, sum3);
        }
        out[outOffset + row] = FloatGemm.finish(sum0, w, start0, x, xOffset, i, cols);
        out[outOffset + row + stride] = FloatGemm.finish(sum1, w, start1, x, xOffset, i, cols);
        out[outOffset + row + 2 * stride] = FloatGemm.finish(sum2, w, start2, x, xOffset, i, cols);
        out[outOffset + row + 3 * stride] = FloatGemm.finish(sum3, w, start3, x, xOffset, i, cols);
    }

    @Override
    void productRow(int row, float[] out, int outOffset) {
        System.arraycopy(values, row * cols, out, outOffset, cols);
    }

    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long rowStart = rowStart(row, out, outOffset);
        MemorySegment.copy(data, LE_FLOAT, rowStart, out, outOffset, cols);
    }

    private FloatVector load(long byteOffset) {
        return FloatVector.fromMemorySegment(FLOAT, data, byteOffset, LE);
    }
}
