package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.LE_FLOAT;
import static dev.winnow.tensors.Vectors.LE_SHORT;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Encoders from float to ggml's storage types, byte-identical to ggml's reference quantizers
 * ({@code quantize_row_q8_0_ref}, {@code quantize_row_q4_0_ref}) and conversions: all arithmetic in
 * float, in the same order, fp16 scales rounded to nearest even. Also the one generic decoder.
 * Output is written little-endian into a {@link MemorySegment} at a byte offset.
 */
public final class Quantize {
    private static final int QK = 32;

    private Quantize() {
    }

    /**
     * Writes n values as Q8_0 blocks: d = max|x| / 127, q = roundf(x / d) using the float reciprocal
     * 1/d as ggml does (an all-zero block gets d = 0 and zero quants).
     *
     * @return the number of bytes written
     */
    public static long quantizeQ8_0(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        checkBlocks(GgmlType.Q8_0, src, srcOff, n, dst, dstOff);
        for (int b = 0; b < n / QK; b++) {
            int from = srcOff + b * QK;
            long blockAt = dstOff + (long) b * Q8_0Tensor.BLOCK_BYTES;
            float amax = 0f;
            for (int j = 0; j < QK; j++) {
                amax = Math.max(amax, Math.abs(src[from + j]));
            }
            float d = amax / 127f;
            float id = d != 0f ? 1f / d : 0f;
            dst.set(LE_SHORT, blockAt, Float.floatToFloat16(d));
            for (int j = 0; j < QK; j++) {
                dst.set(ValueLayout.JAVA_BYTE, blockAt + 2 + j, (byte) roundHalfAwayFromZero(src[from + j] * id));
            }
        }
        return GgmlType.Q8_0.rowBytes(n);
    }

    /**
     * Writes n values as Q4_0 blocks: m = the value of largest magnitude (the first one on ties), d = m / -8,
     * nibble = min(15, (int) (x / d + 8.5)) using the float reciprocal 1/d, so m itself maps to 0 and the
     * other end of the range to 15.
     *
     * @return the number of bytes written
     */
    public static long quantizeQ4_0(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        checkBlocks(GgmlType.Q4_0, src, srcOff, n, dst, dstOff);
        for (int b = 0; b < n / QK; b++) {
            int from = srcOff + b * QK;
            long blockAt = dstOff + (long) b * Q4_0Tensor.BLOCK_BYTES;
            float amax = 0f;
            float max = 0f;
            for (int j = 0; j < QK; j++) {
                float v = src[from + j];
                if (amax < Math.abs(v)) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            float d = max / -8f;
            float id = d != 0f ? 1f / d : 0f;
            dst.set(LE_SHORT, blockAt, Float.floatToFloat16(d));
            for (int j = 0; j < QK / 2; j++) {
                int low = nibble(src[from + j] * id);
                int high = nibble(src[from + QK / 2 + j] * id);
                dst.set(ValueLayout.JAVA_BYTE, blockAt + 2 + j, (byte) (low | high << 4));
            }
        }
        return GgmlType.Q4_0.rowBytes(n);
    }

    /** x/d in [-8, 8] → 0..15; the Java cast truncates toward zero like ggml's (int8_t) cast here. */
    private static int nibble(float scaled) {
        return Math.min(15, (int) (scaled + 8.5f));
    }

    /** C's roundf: halves go away from zero (Math.round would send -2.5 to -2). */
    static float roundHalfAwayFromZero(float v) {
        // |v| + 0.5 is exact in double for every float below 2^52, so floor gives roundf's magnitude.
        return (float) Math.copySign(Math.floor(Math.abs((double) v) + 0.5), v);
    }

    /** Writes n values as IEEE halves (round to nearest even). @return the number of bytes written */
    public static long toF16(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        checkBlocks(GgmlType.F16, src, srcOff, n, dst, dstOff);
        for (int i = 0; i < n; i++) {
            dst.set(LE_SHORT, dstOff + 2L * i, Float.floatToFloat16(src[srcOff + i]));
        }
        return 2L * n;
    }

    /** Writes n values as bfloat16 ({@link #floatToBF16}). @return the number of bytes written */
    public static long toBF16(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        checkBlocks(GgmlType.BF16, src, srcOff, n, dst, dstOff);
        for (int i = 0; i < n; i++) {
            dst.set(LE_SHORT, dstOff + 2L * i, floatToBF16(src[srcOff + i]));
        }
        return 2L * n;
    }

    /**
     * The bfloat16 nearest to v, ties to even, as ggml's {@code ggml_compute_fp32_to_bf16}: adding
     * 0x7FFF plus the lowest kept bit to the float's bits carries into the kept part exactly when the
     * dropped part is above half, or half with an odd kept part. A NaN keeps its top bits and is made quiet.
     */
    public static short floatToBF16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) {
            return (short) (bits >>> 16 | 0x40);
        }
        return (short) (bits + 0x7FFF + (bits >>> 16 & 1) >>> 16);
    }

    /** The float whose top 16 bits are the bfloat16 {@code bits} (exact). */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat(bits << 16);
    }

    /**
     * Writes n values in any type Winnow computes with.
     *
     * @return the number of bytes written
     * @throws IllegalArgumentException if the type has no encoder here or n is not a whole number of blocks
     */
    public static long quantize(GgmlType type, float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        return switch (type) {
            case F32 -> {
                checkBlocks(type, src, srcOff, n, dst, dstOff);
                MemorySegment.copy(src, srcOff, dst, LE_FLOAT, dstOff, n);
                yield 4L * n;
            }
            case F16 -> toF16(src, srcOff, n, dst, dstOff);
            case BF16 -> toBF16(src, srcOff, n, dst, dstOff);
            case Q8_0 -> quantizeQ8_0(src, srcOff, n, dst, dstOff);
            case Q4_0 -> quantizeQ4_0(src, srcOff, n, dst, dstOff);
            case Q4_K -> KQuantize.quantizeQ4_K(src, srcOff, n, dst, dstOff);
            case Q6_K -> KQuantize.quantizeQ6_K(src, srcOff, n, dst, dstOff);
            default -> throw new IllegalArgumentException("no encoder for tensor type " + type);
        };
    }

    /**
     * Decodes n values of the given type stored at src[srcOff ..] into dst[dstOff ..], with the same
     * kernels as {@link FloatTensor#dequantizeRow}.
     *
     * @throws IllegalArgumentException if the type is not computable, n is not a whole number of blocks
     *         or a range does not fit
     */
    public static void dequantize(GgmlType type, MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        long bytes = type.rowBytes(n);
        if (srcOff < 0 || srcOff > src.byteSize() - bytes) {
            throw new IllegalArgumentException("%d %s values (%d bytes) at offset %d do not fit in a segment of %d bytes"
                    .formatted(n, type, bytes, srcOff, src.byteSize()));
        }
        if (dstOff < 0 || dstOff > dst.length - n) {
            throw new IllegalArgumentException("%d values do not fit at offset %d of %d floats".formatted(n, dstOff, dst.length));
        }
        switch (type) {
            case F32 -> MemorySegment.copy(src, LE_FLOAT, srcOff, dst, dstOff, n);
            case F16 -> F16Tensor.toFloats(src, srcOff, dst, dstOff, n);
            case Q8_0 -> Q8_0Tensor.decode(src, srcOff, dst, dstOff, n);
            default -> FloatTensor.of(type, src.asSlice(srcOff, bytes), 1, n).dequantizeRow(0, dst, dstOff);
        }
    }

    static void checkBlocks(GgmlType type, float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        if (n < 0 || srcOff < 0 || srcOff > src.length - n) {
            throw new IllegalArgumentException("%d values at offset %d do not fit in a source of %d floats"
                    .formatted(n, srcOff, src.length));
        }
        long bytes = type.rowBytes(n);
        if (dstOff < 0 || dstOff > dst.byteSize() - bytes) {
            throw new IllegalArgumentException("%d %s values need %d bytes at offset %d; the destination has %d bytes"
                    .formatted(n, type, bytes, dstOff, dst.byteSize()));
        }
    }
}
