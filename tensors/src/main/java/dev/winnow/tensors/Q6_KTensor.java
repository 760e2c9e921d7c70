package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.FLOAT;
import static dev.winnow.tensors.Vectors.LANES;
import static dev.winnow.tensors.Vectors.LE_SHORT;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * ggml's Q6_K: super-blocks of 256 values in 210 bytes: 128 bytes of low nibbles, 64 bytes of high bit pairs,
 * 16 signed 8-bit scales (one per 16 values), then fp16 d. Each half of 128 values uses 64 nibble bytes and 32
 * bit-pair bytes: its values [32k + l] (k = 0..3, l = 0..31) take the low (k < 2) or high (k >= 2) nibble of
 * nibble byte 32 * (k % 2) + l and bits 2k, 2k + 1 of bit-pair byte l. Value = d * scale * (q - 32): exact in
 * float (11 + 7 + 6 significant bits), so each value is exactly the stored one.
 */
public final class Q6_KTensor extends FloatTensor {
    static final int BLOCK_SIZE = KQuants.SUPER_BLOCK;
    static final int BLOCK_BYTES = 210;
    private static final int HIGH_BITS_OFFSET = 128;
    private static final int SCALES_OFFSET = 192;
    private static final int D_OFFSET = 208;
    /** Values sharing one scale. */
    private static final int GROUP_SIZE = 16;
    private static final int GROUPS = BLOCK_SIZE / GROUP_SIZE;
    private static final int CHUNKS = GROUP_SIZE / LANES;
    private static final int QUANT_BIAS = 32;

    public Q6_KTensor(MemorySegment data, int rows, int cols) {
        super(GgmlType.Q6_K, data, rows, cols);
    }

    @Override
    public GgmlType type() {
        return GgmlType.Q6_K;
    }

    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long rowStart = rowStart(row, out, outOffset);
        for (int b = 0; b < cols / BLOCK_SIZE; b++) {
            long blockStart = rowStart + (long) b * BLOCK_BYTES;
            float d = Float.float16ToFloat(data.get(LE_SHORT, blockStart + D_OFFSET));
            for (int group = 0; group < GROUPS; group++) {
                FloatVector scale = FloatVector.broadcast(FLOAT, d * scale(blockStart, group));
                int outAt = outOffset + b * BLOCK_SIZE + group * GROUP_SIZE;
                for (int chunk = 0; chunk < CHUNKS; chunk++) {
                    quants(blockStart, group, chunk).mul(scale).intoArray(out, outAt + chunk * LANES);
                }
            }
        }
    }

    /** q - 32 for values [chunk * LANES, (chunk + 1) * LANES) of the 16-value group {@code group}, as floats. */
    private FloatVector quants(long blockStart, int group, int chunk) {
        int half = group / 8;
        int run = group % 8 / 2; // k above: which 32 values of the half
        int groupInRun = group % 2 * GROUP_SIZE;
        long nibbles = blockStart + half * 64L + run % 2 * 32L + groupInRun;
        long bitPairs = blockStart + HIGH_BITS_OFFSET + half * 32L + groupInRun;
        IntVector low = KQuants.bytesAsInts(data, nibbles, chunk).lanewise(VectorOperators.ASHR, run / 2 * 4).and(0x0F);
        IntVector high = KQuants.bytesAsInts(data, bitPairs, chunk).lanewise(VectorOperators.ASHR, 2 * run).and(3);
        IntVector q = low.or(high.lanewise(VectorOperators.LSHL, 4)).sub(QUANT_BIAS);
        return (FloatVector) q.convertShape(VectorOperators.I2F, FLOAT, 0);
    }

    private float scale(long blockStart, int group) {
        return data.get(ValueLayout.JAVA_BYTE, blockStart + SCALES_OFFSET + group);
    }
}
