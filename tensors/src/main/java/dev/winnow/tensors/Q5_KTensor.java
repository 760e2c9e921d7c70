package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.FLOAT;
import static dev.winnow.tensors.Vectors.LANES;
import static dev.winnow.tensors.Vectors.LE_SHORT;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * ggml's Q5_K: super-blocks of 256 values in 176 bytes: fp16 d, fp16 dmin, 12 bytes of 6-bit scales and mins
 * for eight sub-blocks of 32 ({@link KQuants#scale}), 32 bytes of fifth bits, then 128 bytes of nibbles laid out
 * as in {@link Q4_KTensor}. Value l of sub-block s has its fifth bit in bit s of fifth-bit byte l.
 * Value = (d * scale) * q - (dmin * min), q in 0..31; both products are exact in float, so each value is the
 * float nearest the exact one, and one fused multiply-add computes it.
 */
public final class Q5_KTensor extends FloatTensor {
    static final int BLOCK_SIZE = KQuants.SUPER_BLOCK;
    static final int BLOCK_BYTES = 176;
    private static final int HIGH_BITS_OFFSET = 4 + KQuants.SCALE_BYTES;
    private static final int QUANTS_OFFSET = HIGH_BITS_OFFSET + 32;
    private static final int SUB_BLOCK_SIZE = 32;
    private static final int CHUNKS = SUB_BLOCK_SIZE / LANES;

    public Q5_KTensor(MemorySegment data, int rows, int cols) {
        super(GgmlType.Q5_K, data, rows, cols);
    }

    @Override
    public GgmlType type() {
        return GgmlType.Q5_K;
    }

    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long rowStart = rowStart(row, out, outOffset);
        for (int b = 0; b < cols / BLOCK_SIZE; b++) {
            long blockStart = rowStart + (long) b * BLOCK_BYTES;
            float d = Float.float16ToFloat(data.get(LE_SHORT, blockStart));
            float dMin = Float.float16ToFloat(data.get(LE_SHORT, blockStart + 2));
            long scalesLow = KQuants.scaleBytesLow(data, blockStart);
            int scalesHigh = KQuants.scaleBytesHigh(data, blockStart);
            for (int sub = 0; sub < KQuants.SUB_BLOCKS; sub++) {
                // Both products are exact in float: a half times a 6-bit integer.
                FloatVector scale = FloatVector.broadcast(FLOAT, d * KQuants.scale(scalesLow, scalesHigh, sub));
                FloatVector negativeMin = FloatVector.broadcast(FLOAT, -dMin * KQuants.min(scalesLow, scalesHigh, sub));
                int outAt = outOffset + b * BLOCK_SIZE + sub * SUB_BLOCK_SIZE;
                for (int chunk = 0; chunk < CHUNKS; chunk++) {
                    quants(blockStart, sub, chunk).fma(scale, negativeMin).intoArray(out, outAt + chunk * LANES);
                }
            }
        }
    }

    /** The 5-bit quants of values [chunk * LANES, (chunk + 1) * LANES) of sub-block {@code sub}, as floats. */
    private FloatVector quants(long blockStart, int sub, int chunk) {
        IntVector packed = KQuants.bytesAsInts(data, blockStart + QUANTS_OFFSET + (long) (sub / 2) * SUB_BLOCK_SIZE, chunk);
        IntVector nibbles = (sub & 1) == 0 ? packed.and(0x0F) : packed.lanewise(VectorOperators.ASHR, 4).and(0x0F);
        IntVector fifthBits = KQuants.bytesAsInts(data, blockStart + HIGH_BITS_OFFSET, chunk)
                .lanewise(VectorOperators.ASHR, sub).and(1).lanewise(VectorOperators.LSHL, 4);
        return (FloatVector) nibbles.or(fifthBits).convertShape(VectorOperators.I2F, FLOAT, 0);
    }
}
