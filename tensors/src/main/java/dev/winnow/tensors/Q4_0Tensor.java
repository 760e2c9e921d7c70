package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.BYTE;
import static dev.winnow.tensors.Vectors.BYTE_PARTS;
import static dev.winnow.tensors.Vectors.FLOAT;
import static dev.winnow.tensors.Vectors.INT;
import static dev.winnow.tensors.Vectors.LANES;
import static dev.winnow.tensors.Vectors.LE;
import static dev.winnow.tensors.Vectors.LE_SHORT;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * ggml's Q4_0: blocks of 32 values, each an fp16 scale d followed by 16 bytes; value j of the block is
 * in the low nibble of byte j and value j + 16 in its high nibble; value = d * (nibble - 8).
 */
public final class Q4_0Tensor extends FloatTensor {
    static final int BLOCK_SIZE = 32;
    static final int BLOCK_BYTES = 18;
    private static final int QUANTS_OFFSET = 2;
    /** Float vectors per block. */
    private static final int CHUNKS = BLOCK_SIZE / LANES;
    /** Chunks held in the low nibbles (the first half of the block); the rest are in the high nibbles. */
    private static final int LOW_CHUNKS = CHUNKS / 2;
    private static final int NIBBLE_BIAS = 8;

    public Q4_0Tensor(MemorySegment data, int rows, int cols) {
        super(GgmlType.Q4_0, data, rows, cols);
    }

    @Override
    public GgmlType type() {
        return GgmlType.Q4_0;
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
     * nibble - 8 for values [chunk * LANES, (chunk + 1) * LANES) of the block, as floats. The bytes are
     * widened to ints first: x86 has no byte shifts, and int and/shift/convert are single instructions.
     * Low and high chunks share their bytes (and with 4 float lanes a byte vector holds two chunks): the
     * JIT folds the repeated loads.
     */
    private FloatVector quants(long blockStart, int chunk) {
        int byteChunk = chunk % LOW_CHUNKS;
        long at = blockStart + QUANTS_OFFSET + (long) (byteChunk / BYTE_PARTS) * BYTE.length();
        IntVector packed = (IntVector) ByteVector.fromMemorySegment(BYTE, data, at, LE)
                .convertShape(VectorOperators.B2I, INT, byteChunk % BYTE_PARTS);
        IntVector nibbles = chunk < LOW_CHUNKS ? packed.and(0x0F) : packed.lanewise(VectorOperators.ASHR, 4).and(0x0F);
        return (FloatVector) nibbles.sub(NIBBLE_BIAS).convertShape(VectorOperators.I2F, FLOAT, 0);
    }

    private float scale(long blockStart) {
        return Float.float16ToFloat(data.get(LE_SHORT, blockStart));
    }
}
