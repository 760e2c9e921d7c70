package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.LE_SHORT;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * Encoders to Q4_K and Q6_K that follow ggml's reference quantizers ({@code quantize_row_q4_K_ref},
 * {@code quantize_row_q6_K_ref}) step for step: the same searches for scales, all arithmetic in float in the
 * same order (no fused multiply-adds), ggml's round-half-to-even {@code nearest_int}, fp16 rounded to nearest
 * even; so the bytes are the same as ggml's.
 */
public final class KQuantize {
    private static final int QK = KQuants.SUPER_BLOCK;
    /** Below this largest magnitude ggml treats a group as all zero. */
    private static final float GROUP_MAX_EPS = 1e-15f;

    private KQuantize() {
    }

    /**
     * Writes n values as Q4_K super-blocks. Per sub-block of 32: weights sqrt(mean x^2) + |x|, then a search over
     * 21 candidate scales (with a min at or below 0) for the least weighted squared error with quants 0..15; the
     * eight scales and mins are quantized to 6 bits against the largest of each, and the values requantized with
     * the scale and min as stored.
     *
     * @return the number of bytes written
     */
    public static long quantizeQ4_K(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        Quantize.checkBlocks(GgmlType.Q4_K, src, srcOff, n, dst, dstOff);
        int[] quants = new int[QK];
        int[] candidate = new int[32];
        float[] weights = new float[32];
        float[] scales = new float[KQuants.SUB_BLOCKS];
        float[] mins = new float[KQuants.SUB_BLOCKS];
        int[] storedScales = new int[KQuants.SUB_BLOCKS];
        int[] storedMins = new int[KQuants.SUB_BLOCKS];
        for (int b = 0; b < n / QK; b++) {
            int from = srcOff + b * QK;
            long blockAt = dstOff + (long) b * Q4_KTensor.BLOCK_BYTES;
            float maxScale = 0f;
            float maxMin = 0f;
            for (int j = 0; j < KQuants.SUB_BLOCKS; j++) {
                int at = from + 32 * j;
                float sumSquares = 0f;
                for (int l = 0; l < 32; l++) {
                    sumSquares += src[at + l] * src[at + l];
                }
                float rms = (float) Math.sqrt(sumSquares / 32f);
                for (int l = 0; l < 32; l++) {
                    weights[l] = rms + Math.abs(src[at + l]);
                }
                scales[j] = fitScaleAndMin(src, at, weights, quants, 32 * j, candidate, mins, j);
                // Comparisons as ggml writes them (Math.max orders -0 and NaN differently).
                if (scales[j] > maxScale) {
                    maxScale = scales[j];
                }
                if (mins[j] > maxMin) {
                    maxMin = mins[j];
                }
            }
            float inverseScale = maxScale > 0 ? 63f / maxScale : 0f;
            float inverseMin = maxMin > 0 ? 63f / maxMin : 0f;
            for (int j = 0; j < KQuants.SUB_BLOCKS; j++) {
                // ggml stores the rounded value in a uint8_t before capping it at 63.
                storedScales[j] = Math.min(63, nearestInt(inverseScale * scales[j]) & 0xFF);
                storedMins[j] = Math.min(63, nearestInt(inverseMin * mins[j]) & 0xFF);
            }
            short d = Float.floatToFloat16(maxScale / 63f);
            short dMin = Float.floatToFloat16(maxMin / 63f);
            dst.set(LE_SHORT, blockAt, d);
            dst.set(LE_SHORT, blockAt + 2, dMin);
            KQuants.packScalesAndMins(storedScales, storedMins, dst, blockAt + 4);
            for (int j = 0; j < KQuants.SUB_BLOCKS; j++) {
                float scale = Float.float16ToFloat(d) * storedScales[j];
                if (scale == 0f) {
                    continue; // keeps the quants of the search, as ggml does
                }
                float min = Float.float16ToFloat(dMin) * storedMins[j];
                for (int l = 0; l < 32; l++) {
                    quants[32 * j + l] = clamp(nearestInt((src[from + 32 * j + l] + min) / scale), 0, 15);
                }
            }
            long quantsAt = blockAt + 4 + KQuants.SCALE_BYTES;
            for (int group = 0; group < 4; group++) {
                for (int l = 0; l < 32; l++) {
                    int low = quants[64 * group + l];
                    int high = quants[64 * group + 32 + l];
                    dst.set(ValueLayout.JAVA_BYTE, quantsAt + 32L * group + l, (byte) (low | high << 4));
                }
            }
        }
        return GgmlType.Q4_K.rowBytes(n);
    }

    /**
     * ggml's {@code make_qkx2_quants} for 32 values and quants 0..15: the scale (returned) and min (stored
     * negated in {@code mins[sub]}) of least weighted squared error among the plain min-max fit and 21 scales
     * around it, each refined by weighted least squares. Quants of the best fit go to quants[quantsAt ..].
     */
    private static float fitScaleAndMin(float[] x, int at, float[] w, int[] quants, int quantsAt, int[] candidate,
                                        float[] mins, int sub) {
        final int n = 32;
        final int nmax = 15;
        float min = x[at];
        float max = x[at];
        float sumW = w[0];
        float sumX = sumW * x[at];
        for (int i = 1; i < n; i++) {
            if (x[at + i] < min) {
                min = x[at + i];
            }
            if (x[at + i] > max) {
                max = x[at + i];
            }
            sumW += w[i];
            sumX += w[i] * x[at + i];
        }
        if (min > 0) {
            min = 0;
        }
        if (max == min) {
            Arrays.fill(quants, quantsAt, quantsAt + n, 0);
            mins[sub] = -min;
            return 0f;
        }
        float inverse = nmax / (max - min);
        float scale = 1 / inverse;
        float bestError = 0f;
        for (int i = 0; i < n; i++) {
            int l = clamp(nearestInt(inverse * (x[at + i] - min)), 0, nmax);
            quants[quantsAt + i] = l;
            float diff = scale * l + min - x[at + i];
            bestError += w[i] * (diff * diff);
        }
        for (int step = 0; step <= 20; step++) {
            inverse = (-1f + 0.1f * step + nmax) / (max - min);
            float sumL = 0f;
            float sumL2 = 0f;
            float sumXL = 0f;
            for (int i = 0; i < n; i++) {
                int l = clamp(nearestInt(inverse * (x[at + i] - min)), 0, nmax);
                candidate[i] = l;
                sumL += w[i] * l;
                sumL2 += w[i] * l * l;
                sumXL += w[i] * l * x[at + i];
            }
            float determinant = sumW * sumL2 - sumL * sumL;
            if (determinant > 0) {
                float thisScale = (sumW * sumXL - sumX * sumL) / determinant;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / determinant;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float error = 0f;
                for (int i = 0; i < n; i++) {
                    float diff = thisScale * candidate[i] + thisMin - x[at + i];
                    error += w[i] * (diff * diff);
                }
                if (error < bestError) {
                    System.arraycopy(candidate, 0, quants, quantsAt, n);
                    bestError = error;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        mins[sub] = -min;
        return scale;
    }

    /**
     * Writes n values as Q6_K super-blocks. Per group of 16: the signed scale of least x^2-weighted squared error
     * among 19 candidates (quants -32..31); the sixteen scales are quantized to 8 bits against the one of largest
     * magnitude (which becomes -128), and the values requantized with the scales as stored.
     *
     * @return the number of bytes written
     */
    public static long quantizeQ6_K(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        Quantize.checkBlocks(GgmlType.Q6_K, src, srcOff, n, dst, dstOff);
        int[] quants = new int[QK];
        float[] scales = new float[QK / 16];
        byte[] storedScales = new byte[QK / 16];
        for (int b = 0; b < n / QK; b++) {
            int from = srcOff + b * QK;
            long blockAt = dstOff + (long) b * Q6_KTensor.BLOCK_BYTES;
            float maxScale = 0f;
            float maxAbsScale = 0f;
            for (int group = 0; group < QK / 16; group++) {
                scales[group] = fitSignedScale(src, from + 16 * group, quants, 16 * group);
                if (Math.abs(scales[group]) > maxAbsScale) {
                    maxAbsScale = Math.abs(scales[group]);
                    maxScale = scales[group];
                }
            }
            if (maxAbsScale < GROUP_MAX_EPS) {
                dst.asSlice(blockAt, Q6_KTensor.BLOCK_BYTES).fill((byte) 0);
                continue;
            }
            float inverse = -128f / maxScale;
            short d = Float.floatToFloat16(1 / inverse);
            for (int group = 0; group < QK / 16; group++) {
                storedScales[group] = (byte) Math.min(127, nearestInt(inverse * scales[group]));
            }
            for (int group = 0; group < QK / 16; group++) {
                float scale = Float.float16ToFloat(d) * storedScales[group];
                if (scale == 0f) {
                    continue; // keeps the quants of the search, as ggml does
                }
                for (int i = 0; i < 16; i++) {
                    quants[16 * group + i] = clamp(nearestInt(src[from + 16 * group + i] / scale), -32, 31) + 32;
                }
            }
            for (int half = 0; half < 2; half++) {
                int base = 128 * half;
                for (int l = 0; l < 32; l++) {
                    int q1 = quants[base + l];
                    int q2 = quants[base + l + 32];
                    int q3 = quants[base + l + 64];
                    int q4 = quants[base + l + 96];
                    dst.set(ValueLayout.JAVA_BYTE, blockAt + 64L * half + l, (byte) ((q1 & 0xF) | (q3 & 0xF) << 4));
                    dst.set(ValueLayout.JAVA_BYTE, blockAt + 64L * half + 32 + l, (byte) ((q2 & 0xF) | (q4 & 0xF) << 4));
                    dst.set(ValueLayout.JAVA_BYTE, blockAt + 128 + 32L * half + l,
                            (byte) (q1 >> 4 | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6));
                }
            }
            for (int group = 0; group < QK / 16; group++) {
                dst.set(ValueLayout.JAVA_BYTE, blockAt + 192 + group, storedScales[group]);
            }
            dst.set(LE_SHORT, blockAt + 208, d);
        }
        return GgmlType.Q6_K.rowBytes(n);
    }

    /**
     * ggml's {@code make_qx_quants} for 16 values, quants -32..31 and weights x^2: the scale from the value of
     * largest magnitude (mapped to -32), refined by weighted least squares, then 18 nearby scales tried; the best
     * scale is returned and its quants + 32 go to quants[quantsAt ..].
     */
    private static float fitSignedScale(float[] x, int at, int[] quants, int quantsAt) {
        final int n = 16;
        final int nmax = 32;
        float max = 0f;
        float amax = 0f;
        for (int i = 0; i < n; i++) {
            float ax = Math.abs(x[at + i]);
            if (ax > amax) {
                amax = ax;
                max = x[at + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            Arrays.fill(quants, quantsAt, quantsAt + n, 0);
            return 0f;
        }
        float inverse = -nmax / max;
        float sumLX = 0f;
        float sumL2 = 0f;
        for (int i = 0; i < n; i++) {
            int l = clamp(nearestInt(inverse * x[at + i]), -nmax, nmax - 1);
            quants[quantsAt + i] = l + nmax;
            float w = x[at + i] * x[at + i];
            sumLX += w * x[at + i] * l;
            sumL2 += w * l * l;
        }
        float scale = sumL2 != 0 ? sumLX / sumL2 : 0f;
        float best = scale * sumLX;
        for (int step = -9; step <= 9; step++) {
            if (step == 0) {
                continue;
            }
            inverse = -(nmax + 0.1f * step) / max;
            sumLX = 0f;
            sumL2 = 0f;
            for (int i = 0; i < n; i++) {
                int l = clamp(nearestInt(inverse * x[at + i]), -nmax, nmax - 1);
                float w = x[at + i] * x[at + i];
                sumLX += w * x[at + i] * l;
                sumL2 += w * l * l;
            }
            if (sumL2 > 0 && sumLX * sumLX > best * sumL2) {
                for (int i = 0; i < n; i++) {
                    quants[quantsAt + i] = nmax + clamp(nearestInt(inverse * x[at + i]), -nmax, nmax - 1);
                }
                scale = sumLX / sumL2;
                best = scale * sumLX;
            }
        }
        return scale;
    }

    /**
     * ggml's {@code nearest_int}: adding 1.5 * 2^23 leaves the rounded integer (ties to even) in the low mantissa
     * bits, for |v| below 2^22. Done the same way so that out-of-range values give the same bits too.
     */
    static int nearestInt(float v) {
        return (Float.floatToRawIntBits(v + 12582912f) & 0x007F_FFFF) - 0x0040_0000;
    }

    private static int clamp(int v, int low, int high) {
        return Math.max(low, Math.min(high, v));
    }
}
