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

/** bfloat16: the top 16 bits of an IEEE single, little-endian. */
public final class BF16Tensor extends FloatTensor {
    private static final int VALUE_BYTES = 2;

    public BF16Tensor(MemorySegment data, int rows, int cols) {
        super(GgmlType.BF16, data, rows, cols);
    }

    @Override
    public GgmlType type() {
        return GgmlType.BF16;
    }

    @Override
    public float dotRow(int row, float[] x, int xOffset) {
        long rowStart = rowStart(row, x, xOffset);
        FloatVector acc0 = FloatVector.zero(FLOAT);
        FloatVector acc1 = FloatVector.zero(FLOAT);
        int i = 0;
        for (int unrolledEnd = cols - 2 * LANES; i <= unrolledEnd; i += 2 * LANES) {
            long at = rowStart + (long) i * VALUE_BYTES;
            acc0 = load(at).fma(FloatVector.fromArray(FLOAT, x, xOffset + i), acc0);
            acc1 = load(at + LANES * VALUE_BYTES).fma(FloatVector.fromArray(FLOAT, x, xOffset + i + LANES), acc1);
        }
        for (int vectorEnd = cols - LANES; i <= vectorEnd; i += LANES) {
            acc0 = load(rowStart + (long) i * VALUE_BYTES).fma(FloatVector.fromArray(FLOAT, x, xOffset + i), acc0);
        }
        float sum = Vectors.sum(acc0.add(acc1));
        for (; i < cols; i++) {
            sum += scalar(rowStart + (long) i * VALUE_BYTES) * x[xOffset + i];
        }
        return sum;
    }

    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long rowStart = rowStart(row, out, outOffset);
        int i = 0;
        for (int vectorEnd = cols - LANES; i <= vectorEnd; i += LANES) {
            load(rowStart + (long) i * VALUE_BYTES).intoArray(out, outOffset + i);
        }
        for (; i < cols; i++) {
            out[outOffset + i] = scalar(rowStart + (long) i * VALUE_BYTES);
        }
    }

    /** LANES values at byteOffset: widened to int and shifted into the top half, they are the floats' bits. */
    private FloatVector load(long byteOffset) {
        ShortVector bits = ShortVector.fromMemorySegment(SHORT, data, byteOffset, LE);
        return Vectors.widen(bits).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    private float scalar(long byteOffset) {
        return Quantize.bf16ToFloat(data.get(LE_SHORT, byteOffset));
    }
}
