package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.BYTE;
import static dev.winnow.tensors.Vectors.BYTE_PARTS;
import static dev.winnow.tensors.Vectors.FLOAT;
import static dev.winnow.tensors.Vectors.LANES;
import static dev.winnow.tensors.Vectors.LE;
import static dev.winnow.tensors.Vectors.LE_SHORT;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * ggml's Q8_0: blocks of 32 values, each an fp16 scale d followed by 32 signed bytes q; value = d * q.
 */
public final class Q8_0Tensor extends FloatTensor {
    static final int BLOCK_SIZE = 32;
    static final int BLOCK_BYTES = 34;
    private static final int QUANTS_OFFSET = 2;
    /** Float vectors per block. */
    private static final int CHUNKS = BLOCK_SIZE / LANES;

    public Q8_0Tensor(MemorySegment data, int rows, int cols) {
        super(GgmlType.Q8_0, data, rows, cols);
    }

    @Override
    public GgmlType type() {
        return GgmlType.Q8_0;
    }

    @Override
    public float dotRow(int row, float[] x, int xOffset) {
        long rowStart = rowStart(row, x, xOffset);
        FloatVector acc = FloatVector.zero(FLOAT);
        for (int b = 0; b < cols / BLOCK_SIZE; b++) {
            long blockStart = rowStart + (long) b * BLOCK_BYTES;
            int xAt = xOffset + b * BLOCK_SIZE;
            // The block's products are summed unscaled, then scaled once: one dependent FMA per block.
            FloatVector blockSum = quants(blockStart, 0).mul(FloatVector.fromArray(FLOAT, x, xAt));
            for (int chunk = 1; chunk < CHUNKS; chunk++) {
                blockSum = quants(blockStart, chunk).fma(FloatVector.fromArray(FLOAT, x, xAt + chunk * LANES), blockSum);
            }
            acc = blockSum.fma(FloatVector.broadcast(FLOAT, scale(blockStart)), acc);
        }
        return Vectors.sum(acc);
    }

    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long rowStart = rowStart(row, out, outOffset);
        for (int b = 0; b < cols / BLOCK_SIZE; b++) {
            long blockStart = rowStart + (long) b * BLOCK_BYTES;
            FloatVector scale = FloatVector.broadcast(FLOAT, scale(blockStart));
            for (int chunk = 0; chunk < CHUNKS; chunk++) {
                quants(blockStart, chunk).mul(scale).intoArray(out, outOffset + b * BLOCK_SIZE + chunk * LANES);
            }
        }
    }

    /**
     * The quants of values [chunk * LANES, (chunk + 1) * LANES) of the block, as floats. With 4 float
     * lanes a byte vector holds two chunks; the repeated load of its second half is folded by the JIT.
     */
    private FloatVector quants(long blockStart, int chunk) {
        long at = blockStart + QUANTS_OFFSET + (long) (chunk / BYTE_PARTS) * BYTE.length();
        ByteVector bytes = ByteVector.fromMemorySegment(BYTE, data, at, LE);
        return (FloatVector) bytes.convertShape(VectorOperators.B2F, FLOAT, chunk % BYTE_PARTS);
    }

    private float scale(long blockStart) {
        return Float.float16ToFloat(data.get(LE_SHORT, blockStart));
    }
}
