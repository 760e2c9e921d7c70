package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.FLOAT;
import static dev.winnow.tensors.Vectors.LANES;
import static dev.winnow.tensors.Vectors.LE_SHORT;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * ggml's Q4_1: blocks of 32 values, each fp16 d, fp16 m and 16 bytes of nibbles in Q4_0's order;
 * value = d * q + m (d * q is exact in float, so one fused multiply-add gives the float nearest the value).
 */
public final class Q4_1Tensor extends FloatTensor {
    static final int BLOCK_SIZE = 32;
    static final int BLOCK_BYTES = 20;
    private static final int QUANTS_OFFSET = 4;
    private static final int CHUNKS = BLOCK_SIZE / LANES;

    public Q4_1Tensor(MemorySegment data, int rows, int cols) {
        super(GgmlType.Q4_1, data, rows, cols);
    }

    @Override
    public GgmlType type() {
        return GgmlType.Q4_1;
    }

    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long rowStart = rowStart(row, out, outOffset);
        for (int b = 0; b < cols / BLOCK_SIZE; b++) {
            long blockStart = rowStart + (long) b * BLOCK_BYTES;
            FloatVector d = FloatVector.broadcast(FLOAT, half(blockStart));
            FloatVector m = FloatVector.broadcast(FLOAT, half(blockStart + 2));
            for (int chunk = 0; chunk < CHUNKS; chunk++) {
                quants(blockStart, chunk).fma(d, m).intoArray(out, outOffset + b * BLOCK_SIZE + chunk * LANES);
            }
        }
    }

    private FloatVector quants(long blockStart, int chunk) {
        return (FloatVector) KQuants.blockNibbles(data, blockStart + QUANTS_OFFSET, chunk)
                .convertShape(VectorOperators.I2F, FLOAT, 0);
    }

    private float half(long at) {
        return Float.float16ToFloat(data.get(LE_SHORT, at));
    }
}
