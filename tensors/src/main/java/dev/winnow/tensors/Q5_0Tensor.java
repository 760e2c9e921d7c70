package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.FLOAT;
import static dev.winnow.tensors.Vectors.LANES;
import static dev.winnow.tensors.Vectors.LE_SHORT;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * ggml's Q5_0: blocks of 32 values, each fp16 d, a little-endian 32-bit word whose bit j is the fifth bit of
 * value j, and 16 bytes of nibbles in Q4_0's order; value = d * (q - 16), exact in float.
 */
public final class Q5_0Tensor extends FloatTensor {
    static final int BLOCK_SIZE = 32;
    static final int BLOCK_BYTES = 22;
    private static final int QUANTS_OFFSET = 6;
    private static final int CHUNKS = BLOCK_SIZE / LANES;
    private static final int QUANT_BIAS = 16;

    public Q5_0Tensor(MemorySegment data, int rows, int cols) {
        super(GgmlType.Q5_0, data, rows, cols);
    }

    @Override
    public GgmlType type() {
        return GgmlType.Q5_0;
    }

    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long rowStart = rowStart(row, out, outOffset);
        for (int b = 0; b < cols / BLOCK_SIZE; b++) {
            long blockStart = rowStart + (long) b * BLOCK_BYTES;
            FloatVector d = FloatVector.broadcast(FLOAT, half(blockStart));
            for (int chunk = 0; chunk < CHUNKS; chunk++) {
                quants(blockStart, chunk).mul(d).intoArray(out, outOffset + b * BLOCK_SIZE + chunk * LANES);
            }
        }
    }

    private FloatVector quants(long blockStart, int chunk) {
        int fifthBits = data.get(KQuants.LE_INT, blockStart + 2);
        return (FloatVector) KQuants.blockNibbles(data, blockStart + QUANTS_OFFSET, chunk)
                .or(KQuants.fifthBits(fifthBits, chunk)).sub(QUANT_BIAS)
                .convertShape(VectorOperators.I2F, FLOAT, 0);
    }

    private float half(long at) {
        return Float.float16ToFloat(data.get(LE_SHORT, at));
    }
}
