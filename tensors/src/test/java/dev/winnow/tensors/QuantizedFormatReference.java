package dev.winnow.tensors;

import static dev.winnow.tensors.KernelReference.half;
import static dev.winnow.tensors.KernelReference.u16;
import static dev.winnow.tensors.KernelReference.u8;

import java.lang.foreign.MemorySegment;

/**
 * Test-side decoding, in double, of the formats added after Q8_0 and Q4_0, written from ggml's block
 * descriptions value by value (no vectors, no shared code with the kernels). Used by {@link KernelReference}.
 */
final class QuantizedFormatReference {
    private QuantizedFormatReference() {
    }

    /** Decodes one row of {@code cols} values starting at byte {@code at}. */
    static double[] decodeRow(GgmlType type, MemorySegment s, long at, int cols) {
        double[] v = new double[cols];
        for (int b = 0; b < cols / type.blockSize(); b++) {
            long block = at + (long) b * type.blockBytes();
            int first = b * type.blockSize();
            switch (type) {
                case Q4_1 -> decodeQ4_1(s, block, v, first);
                case Q5_0, Q5_1 -> decodeQ5(type == GgmlType.Q5_1, s, block, v, first);
                case Q4_K, Q5_K -> decodeQ4_KOrQ5_K(type == GgmlType.Q5_K, s, block, v, first);
                case Q6_K -> decodeQ6_K(s, block, v, first);
                default -> throw new IllegalArgumentException(type.toString());
            }
        }
        return v;
    }

    private static void decodeQ4_1(MemorySegment s, long block, double[] v, int first) {
        double d = half(u16(s, block));
        double m = half(u16(s, block + 2));
        for (int j = 0; j < 16; j++) {
            int packed = u8(s, block + 4 + j);
            v[first + j] = d * (packed & 0xF) + m;
            v[first + 16 + j] = d * (packed >> 4) + m;
        }
    }

    /** Q5_0 (d, 32 fifth bits, nibbles; d * (q - 16)) and Q5_1 (d, m, fifth bits, nibbles; d * q + m). */
    private static void decodeQ5(boolean withMin, MemorySegment s, long block, double[] v, int first) {
        double d = half(u16(s, block));
        double m = withMin ? half(u16(s, block + 2)) : 0;
        long bitsAt = block + (withMin ? 4 : 2);
        long fifthBits = (long) u16(s, bitsAt) | (long) u16(s, bitsAt + 2) << 16;
        for (int j = 0; j < 32; j++) {
            int packed = u8(s, bitsAt + 4 + j % 16);
            int nibble = j < 16 ? packed & 0xF : packed >> 4;
            int q = nibble + 16 * (int) (fifthBits >> j & 1);
            v[first + j] = withMin ? d * q + m : d * (q - 16);
        }
    }

    /**
     * Q4_K / Q5_K: d, dmin, 12 bytes of scales and mins, (Q5_K: 32 bytes of fifth bits), 128 bytes of nibbles.
     * Sub-block j (32 values): 6-bit scale sc and min mn; for j < 4, sc = byte j & 63, mn = byte j + 4 & 63;
     * for j >= 4, the low 4 bits are the low and high nibbles of byte j + 4 and the top 2 bits the top bits of
     * byte j - 4 (scale) and byte j (min). Value l of sub-block j is nibble (j even: low, odd: high) of quant byte
     * 32 * (j / 2) + l, plus 16 times bit j of fifth-bit byte l; value = d * sc * q - dmin * mn.
     */
    private static void decodeQ4_KOrQ5_K(boolean fifthBits, MemorySegment s, long block, double[] v, int first) {
        long bitsAt = block + 16;
        long quants = block + (fifthBits ? 48 : 16);
        for (int j = 0; j < 8; j++) {
            double[] scaleAndMin = subBlockScaleAndMin(s, block, j);
            for (int l = 0; l < 32; l++) {
                int packed = u8(s, quants + 32L * (j / 2) + l);
                int q = j % 2 == 0 ? packed & 0xF : packed >> 4;
                if (fifthBits) {
                    q += 16 * (u8(s, bitsAt + l) >> j & 1);
                }
                v[first + 32 * j + l] = scaleAndMin[0] * q - scaleAndMin[1];
            }
        }
    }

    /** {d * sc, dmin * mn} of sub-block j of a Q4_K or Q5_K block (see above). */
    static double[] subBlockScaleAndMin(MemorySegment s, long block, int j) {
        long scales = block + 4;
        int sc;
        int mn;
        if (j < 4) {
            sc = u8(s, scales + j) & 63;
            mn = u8(s, scales + j + 4) & 63;
        } else {
            sc = (u8(s, scales + j + 4) & 0xF) + 16 * (u8(s, scales + j - 4) >> 6);
            mn = (u8(s, scales + j + 4) >> 4) + 16 * (u8(s, scales + j) >> 6);
        }
        return new double[] {half(u16(s, block)) * sc, half(u16(s, block + 2)) * mn};
    }

    /** d * scale of 16-value group g of a Q6_K block (see below). */
    static double q6GroupScale(MemorySegment s, long block, int g) {
        return half(u16(s, block + 208)) * (byte) u8(s, block + 192 + g);
    }

    /**
     * Q6_K: 128 bytes ql, 64 bytes qh, 16 signed scales, d. Value i = 128h + 32k + l (h = 0..1, k = 0..3,
     * l = 0..31): low 4 bits from ql[64h + 32(k % 2) + l] (low nibble for k < 2, high for k >= 2), high 2 bits
     * from bits 2k..2k+1 of qh[32h + l]; value = d * scale[i / 16] * (q - 32).
     */
    private static void decodeQ6_K(MemorySegment s, long block, double[] v, int first) {
        for (int i = 0; i < 256; i++) {
            int h = i / 128;
            int k = i % 128 / 32;
            int l = i % 32;
            int ql = u8(s, block + 64L * h + 32L * (k % 2) + l);
            int low = k < 2 ? ql & 0xF : ql >> 4;
            int high = u8(s, block + 128 + 32L * h + l) >> (2 * k) & 3;
            v[first + i] = q6GroupScale(s, block, i / 16) * (low + 16 * high - 32);
        }
    }
}
