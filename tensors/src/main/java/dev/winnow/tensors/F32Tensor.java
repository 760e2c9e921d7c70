package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.FLOAT;
import static dev.winnow.tensors.Vectors.LANES;
import static dev.winnow.tensors.Vectors.LE;
import static dev.winnow.tensors.Vectors.LE_FLOAT;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/** Little-endian IEEE single-precision values. */
public final class F32Tensor extends FloatTensor {
    private static final int FLOAT_BYTES = 4;

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
        // Four independent accumulators hide the FMA latency.
        FloatVector acc0 = FloatVector.zero(FLOAT);
        FloatVector acc1 = FloatVector.zero(FLOAT);
        FloatVector acc2 = FloatVector.zero(FLOAT);
        FloatVector acc3 = FloatVector.zero(FLOAT);
        int i = 0;
        for (int unrolledEnd = cols - 4 * LANES; i <= unrolledEnd; i += 4 * LANES) {
            long at = rowStart + (long) i * FLOAT_BYTES;
            acc0 = load(at).fma(FloatVector.fromArray(FLOAT, x, xOffset + i), acc0);
            acc1 = load(at + LANES * FLOAT_BYTES).fma(FloatVector.fromArray(FLOAT, x, xOffset + i + LANES), acc1);
            acc2 = load(at + 2 * LANES * FLOAT_BYTES).fma(FloatVector.fromArray(FLOAT, x, xOffset + i + 2 * LANES), acc2);
            acc3 = load(at + 3 * LANES * FLOAT_BYTES).fma(FloatVector.fromArray(FLOAT, x, xOffset + i + 3 * LANES), acc3);
        }
        for (int vectorEnd = cols - LANES; i <= vectorEnd; i += LANES) {
            acc0 = load(rowStart + (long) i * FLOAT_BYTES).fma(FloatVector.fromArray(FLOAT, x, xOffset + i), acc0);
        }
        float sum = Vectors.sum(acc0.add(acc1).add(acc2.add(acc3)));
        for (; i < cols; i++) {
            sum += data.get(LE_FLOAT, rowStart + (long) i * FLOAT_BYTES) * x[xOffset + i];
        }
        return sum;
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
