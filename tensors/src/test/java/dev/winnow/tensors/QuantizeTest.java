package dev.winnow.tensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import java.util.function.IntToDoubleFunction;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * The encoders against the definitions of ggml's formats: scale rules, error bounds derived from them,
 * rounding examples worked out by hand, and round-to-nearest-even checked against neighbouring values.
 * (Byte identity with files made by ggml's quantizer is checked in the tests module, on real models.)
 */
class QuantizeTest {
    private static final byte UNTOUCHED = (byte) 0xA5;

    /**
     * Blocks of random values at scales from 2^-30 (scales underflow to half subnormals and zero) to 2^15
     * (the scale stays below the largest half, 65504), some all zero, some with the largest magnitude
     * repeated with either sign.
     */
    private static float[] randomBlocks(int blocks, Random r) {
        float[] x = new float[32 * blocks];
        for (int b = 0; b < blocks; b++) {
            int kind = r.nextInt(10);
            if (kind == 0) {
                continue; // all zero
            }
            double scale = Math.scalb(1.0, r.nextInt(-30, 16));
            for (int j = 0; j < 32; j++) {
                x[32 * b + j] = (float) (r.nextGaussian() * scale);
            }
            if (kind == 1) {
                x[32 * b + r.nextInt(32)] = -x[32 * b + r.nextInt(32)];
            }
        }
        return x;
    }

    /** Quantizes x (at a random source offset) into a buffer at a random offset and returns that block region. */
    private static MemorySegment quantized(GgmlType type, float[] x, Random r) {
        int srcOff = r.nextInt(4);
        float[] src = new float[srcOff + x.length + 2];
        System.arraycopy(x, 0, src, srcOff, x.length);
        long size = type.rowBytes(x.length);
        int dstOff = r.nextInt(5);
        MemorySegment buffer = MemorySegment.ofArray(new byte[(int) size + dstOff + 3]);
        buffer.fill(UNTOUCHED);
        long written = Quantize.quantize(type, src, srcOff, x.length, buffer, dstOff);
        assertEquals(size, written);
        for (long i = 0; i < buffer.byteSize(); i++) {
            if (i < dstOff || i >= dstOff + size) {
                assertEquals(UNTOUCHED, buffer.get(ValueLayout.JAVA_BYTE, i), "byte " + i + " outside the blocks");
            }
        }
        return buffer.asSlice(dstOff, size);
    }

    private static float storedScale(MemorySegment blocks, GgmlType type, int block) {
        return (float) KernelReference.half(KernelReference.u16(blocks, (long) block * type.blockBytes()));
    }

    /**
     * Q8_0: d = fp16(max|x| / 127). With the exact step s = max|x|/127, q = roundf(x * (1/s)) is within
     * 0.5 + 2^-16 of x/s (the float reciprocal and product add a few units of 2^-24 relative, on |x/s| <= 127),
     * and decoding uses d instead of s, off by at most |q| <= 127 times |d - s|.
     */
    @Property(tries = 200)
    void q8_0ScaleFollowsTheRuleAndValuesStayWithinHalfAStep(@ForAll @IntRange(min = 1, max = 8) int blocks, @ForAll long seed) {
        Random r = new Random(seed);
        float[] x = randomBlocks(blocks, r);
        MemorySegment q = quantized(GgmlType.Q8_0, x, r);
        double[] decoded = KernelReference.decodeRow(GgmlType.Q8_0, q, 0, x.length);
        for (int b = 0; b < blocks; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(x[32 * b + j]));
            }
            float d = storedScale(q, GgmlType.Q8_0, b);
            assertEquals(Float.floatToFloat16(amax / 127f), Float.floatToFloat16(d), "block " + b + " scale");
            double step = amax / 127.0;
            double bound = step * (0.5 + 0x1p-16) + 127 * Math.abs(d - step);
            for (int j = 0; j < 32; j++) {
                int i = 32 * b + j;
                assertTrue(Math.abs(x[i] - decoded[i]) <= bound,
                        () -> "value %d: %s decoded as %s, bound %s".formatted(i, x[i], decoded[i], bound));
            }
        }
    }

    /**
     * Q4_0: m = the value of largest magnitude (first on ties), d = fp16(m / -8); m decodes exactly (nibble 0).
     * With the exact step s = m/-8, x/s lies in [-8, 8]; truncating x/s + 8.5 rounds to the nearest nibble,
     * except that 16 (x/s >= 7.5, the end opposite m) is clamped to 15: so the error is at most |s|/2 below
     * x/s = 7.5 and at most |s| above, plus 8 |d - s| for using d.
     */
    @Property(tries = 200)
    void q4_0ScaleFollowsTheRuleAndValuesStayWithinTheirStep(@ForAll @IntRange(min = 1, max = 8) int blocks, @ForAll long seed) {
        Random r = new Random(seed);
        float[] x = randomBlocks(blocks, r);
        MemorySegment q = quantized(GgmlType.Q4_0, x, r);
        double[] decoded = KernelReference.decodeRow(GgmlType.Q4_0, q, 0, x.length);
        for (int b = 0; b < blocks; b++) {
            int maxAt = 32 * b;
            for (int j = 1; j < 32; j++) {
                if (Math.abs(x[32 * b + j]) > Math.abs(x[maxAt])) {
                    maxAt = 32 * b + j;
                }
            }
            float m = x[maxAt];
            float d = storedScale(q, GgmlType.Q4_0, b);
            assertEquals(Float.floatToFloat16(m / -8f), Float.floatToFloat16(d), "block " + b + " scale");
            assertTrue(-8.0 * d == decoded[maxAt], "the largest magnitude decodes as -8 d");
            double step = Math.abs(m / 8.0);
            double scaleError = 8 * Math.abs(Math.abs(d) - step);
            for (int j = 0; j < 32; j++) {
                int i = 32 * b + j;
                boolean clampedEnd = step > 0 && x[i] / (m / -8.0) >= 7.5 - 0x1p-16;
                double bound = step * ((clampedEnd ? 1 : 0.5) + 0x1p-16) + scaleError;
                assertTrue(Math.abs(x[i] - decoded[i]) <= bound,
                        () -> "value %d: %s decoded as %s, bound %s".formatted(i, x[i], decoded[i], bound));
            }
        }
    }

    /** With max|x| = 127 the step is exactly 1, so each quant is roundf(x): halves go away from zero. */
    @Example
    void q8_0RoundsHalvesAwayFromZero() {
        float[] x = new float[32];
        float[] halves = {127f, 2.5f, -2.5f, 0.5f, -0.5f, 126.5f, -126.5f, 1.5f, -1.5f, 0.49999997f, -0.49999997f};
        byte[] expected = {127, 3, -3, 1, -1, 127, -127, 2, -2, 0, 0};
        System.arraycopy(halves, 0, x, 0, halves.length);
        MemorySegment q = MemorySegment.ofArray(new byte[34]);
        Quantize.quantizeQ8_0(x, 0, 32, q, 0);
        assertEquals(1f, storedScale(q, GgmlType.Q8_0, 0));
        for (int j = 0; j < expected.length; j++) {
            assertEquals(expected[j], q.get(ValueLayout.JAVA_BYTE, 2 + j), "value " + halves[j]);
        }
    }

    /** Q4_0's d of an all-zero block is 0 / -8 = -0 in float, stored as the half -0 (0x8000), as ggml stores it. */
    @Example
    void allZeroBlocksHaveZeroScaleAndMiddleQuants() {
        float[] zeros = new float[64];
        MemorySegment q8 = MemorySegment.ofArray(new byte[68]);
        Quantize.quantizeQ8_0(zeros, 0, 64, q8, 0);
        assertArrayEquals(new byte[68], q8.toArray(ValueLayout.JAVA_BYTE));
        MemorySegment q4 = MemorySegment.ofArray(new byte[36]);
        Quantize.quantizeQ4_0(zeros, 0, 64, q4, 0);
        for (int b = 0; b < 2; b++) {
            assertEquals(0x8000, KernelReference.u16(q4, 18L * b), "scale -0");
            for (int j = 2; j < 18; j++) {
                assertEquals((byte) 0x88, q4.get(ValueLayout.JAVA_BYTE, 18L * b + j), "nibbles of 0 are 8");
            }
        }
    }

    /**
     * Largest magnitude -4: d = -4 / -8 = 0.5, 1/d = 2, nibble = min(15, trunc(2x + 8.5)):
     * -4 → 0, 4 → 16 clamped to 15, 0 → 8, 1 → 10, -1 → 6, 0.25 → 9, 3.75 → 16 clamped to 15, -3.75 → 1.
     */
    @Example
    void q4_0WithANegativeLargestValue() {
        float[] x = new float[32];
        float[] values = {-4f, 4f, 0f, 1f, -1f, 0.25f, 3.75f, -3.75f};
        int[] nibbles = {0, 15, 8, 10, 6, 9, 15, 1};
        System.arraycopy(values, 0, x, 0, values.length);
        x[16] = 1f; // high nibble of byte 0
        MemorySegment q = MemorySegment.ofArray(new byte[18]);
        Quantize.quantizeQ4_0(x, 0, 32, q, 0);
        assertEquals(0.5f, storedScale(q, GgmlType.Q4_0, 0));
        for (int j = 0; j < values.length; j++) {
            assertEquals(nibbles[j], KernelReference.u8(q, 2 + j) & 0xF, "value " + values[j]);
        }
        assertEquals(10, KernelReference.u8(q, 2) >> 4, "value 1 in the high nibble");
    }

    /** On a tie in magnitude the first value sets the sign of d. */
    @Example
    void q4_0TiesGoToTheFirstLargestValue() {
        float[] x = new float[32];
        x[3] = 5f;
        x[7] = -5f;
        MemorySegment q = MemorySegment.ofArray(new byte[18]);
        Quantize.quantizeQ4_0(x, 0, 32, q, 0);
        assertEquals(-0.625f, storedScale(q, GgmlType.Q4_0, 0));
        x[3] = -5f;
        x[7] = 5f;
        Quantize.quantizeQ4_0(x, 0, 32, q, 0);
        assertEquals(0.625f, storedScale(q, GgmlType.Q4_0, 0));
    }

    @Example
    void everyHalfAndBfloat16SurvivesARoundTrip() {
        for (int bits = 0; bits < 65536; bits++) {
            float half = Float.float16ToFloat((short) bits);
            if (!Float.isNaN(half)) {
                assertEquals((short) bits, Float.floatToFloat16(half));
            }
            float bf16 = Float.intBitsToFloat(bits << 16);
            if (!Float.isNaN(bf16)) {
                assertEquals((short) bits, Quantize.floatToBF16(bf16), "bfloat16 " + Integer.toHexString(bits));
            }
        }
    }

    /** A float with a random sign, a random exponent in [minExponent, maxExponent] (biased) and random significand. */
    private static float randomFloat(Random r, int minExponent, int maxExponent) {
        return Float.intBitsToFloat(r.nextInt(2) << 31 | r.nextInt(minExponent, maxExponent + 1) << 23 | r.nextInt(1 << 23));
    }

    /**
     * bits is the encoding nearest to v, ties to the even encoding: no neighbour (one unit up or down in
     * magnitude, within the finite range) is closer, and the sign is v's.
     */
    private static void assertNearestEven(float v, int bits, IntToDoubleFunction decode, int maxFiniteMagnitude) {
        int sign = bits & 0x8000;
        int magnitude = bits & 0x7FFF;
        assertEquals(Float.floatToRawIntBits(v) >>> 31, sign >>> 15, () -> "sign of " + v);
        double error = Math.abs(v - decode.applyAsDouble(bits));
        for (int neighbour = magnitude - 1; neighbour <= magnitude + 1; neighbour += 2) {
            if (neighbour < 0 || neighbour > maxFiniteMagnitude) {
                continue;
            }
            double neighbourError = Math.abs(v - decode.applyAsDouble(sign | neighbour));
            int n = neighbour;
            assertTrue(error < neighbourError || error == neighbourError && (magnitude & 1) == 0,
                    () -> "%s encoded as %04x, but %04x is at least as close".formatted(v, bits, sign | n));
        }
    }

    @Property(tries = 50)
    void bfloat16EncodingRoundsToNearestEven(@ForAll long seed) {
        Random r = new Random(seed);
        float[] x = new float[4096];
        for (int i = 0; i < x.length; i++) {
            // Finite bfloat16 range (exponent 254 holds the values that round up to infinity); subnormals included.
            x[i] = randomFloat(r, 0, 253);
        }
        MemorySegment out = MemorySegment.ofArray(new byte[2 * x.length]);
        assertEquals(2L * x.length, Quantize.toBF16(x, 0, x.length, out, 0));
        for (int i = 0; i < x.length; i++) {
            int bits = KernelReference.u16(out, 2L * i);
            assertEquals((short) bits, Quantize.floatToBF16(x[i]));
            assertNearestEven(x[i], bits, b -> Float.intBitsToFloat(b << 16), 0x7F7F);
        }
    }

    @Property(tries = 50)
    void halfEncodingRoundsToNearestEven(@ForAll long seed) {
        Random r = new Random(seed);
        float[] x = new float[4096];
        for (int i = 0; i < x.length; i++) {
            // From below half of the smallest subnormal (2^-25) up to, not including, the binade of 65504.
            x[i] = randomFloat(r, 127 - 26, 127 + 14);
        }
        MemorySegment out = MemorySegment.ofArray(new byte[2 * x.length]);
        assertEquals(2L * x.length, Quantize.toF16(x, 0, x.length, out, 0));
        for (int i = 0; i < x.length; i++) {
            assertNearestEven(x[i], KernelReference.u16(out, 2L * i), KernelReference::half, 0x7BFF);
        }
    }

    @Example
    void overflowAndNaNEncodeAsIeeeSays() {
        assertEquals((short) 0x7BFF, Float.floatToFloat16(65519f));
        assertEquals((short) 0x7C00, Float.floatToFloat16(65520f));
        assertEquals((short) 0x7F7F, Quantize.floatToBF16(Float.intBitsToFloat(0x7F7F7FFF)));
        assertEquals((short) 0x7F80, Quantize.floatToBF16(Float.MAX_VALUE));
        assertEquals((short) 0xFF80, Quantize.floatToBF16(Float.NEGATIVE_INFINITY));
        // NaNs keep their sign and top payload bits and come out quiet.
        assertEquals((short) 0x7FC0, Quantize.floatToBF16(Float.intBitsToFloat(0x7F80_0001)));
        assertEquals((short) 0xFFC1, Quantize.floatToBF16(Float.intBitsToFloat(0xFF81_0000)));
    }

    @Property(tries = 50)
    void dequantizeDecodesWhatTheTensorsDecode(@ForAll("computable") GgmlType type, @ForAll long seed) {
        Random r = new Random(seed);
        int cols = KernelReference.randomCols(type, r);
        MemorySegment row = KernelReference.randomTensor(type, 1, cols, r);
        int srcOff = r.nextInt(3);
        MemorySegment buffer = MemorySegment.ofArray(new byte[(int) row.byteSize() + srcOff]);
        buffer.asSlice(srcOff).copyFrom(row);
        float[] out = new float[cols + 1];
        Quantize.dequantize(type, buffer, srcOff, out, 1, cols);
        double[] expected = KernelReference.decodeRow(type, row, 0, cols);
        for (int i = 0; i < cols; i++) {
            assertEquals((float) expected[i], out[i + 1], "value " + i);
        }
    }

    @Provide
    Arbitrary<GgmlType> computable() {
        return Arbitraries.of(KernelReference.TYPES);
    }

    @Example
    void f32EncodingIsACopy() {
        float[] x = {1f, -0f, Float.MIN_VALUE, Float.NaN, 3.3e38f};
        MemorySegment out = MemorySegment.ofArray(new byte[20]);
        Quantize.quantize(GgmlType.F32, x, 0, 5, out, 0);
        float[] back = new float[5];
        Quantize.dequantize(GgmlType.F32, out, 0, back, 0, 5);
        for (int i = 0; i < 5; i++) {
            assertEquals(Float.floatToRawIntBits(x[i]), Float.floatToRawIntBits(back[i]));
        }
    }

    @Example
    void badArgumentsAreRefusedWithAReason() {
        MemorySegment out = MemorySegment.ofArray(new byte[34]);
        assertThrows(IllegalArgumentException.class, () -> Quantize.quantizeQ8_0(new float[40], 0, 40, out, 0), "not whole blocks");
        assertThrows(IllegalArgumentException.class, () -> Quantize.quantizeQ8_0(new float[64], 0, 64, out, 0), "destination too small");
        assertThrows(IllegalArgumentException.class, () -> Quantize.quantizeQ4_0(new float[32], 1, 32, out, 0), "source too small");
        assertThrows(IllegalArgumentException.class, () -> Quantize.toF16(new float[32], 0, 32, out, -1), "negative offset");
        assertThrows(IllegalArgumentException.class, () -> Quantize.quantize(GgmlType.Q6_K, new float[256], 0, 256, out, 0));
        assertThrows(IllegalArgumentException.class, () -> Quantize.dequantize(GgmlType.Q8_0, out, 1, new float[32], 0, 32));
        assertThrows(IllegalArgumentException.class, () -> Quantize.dequantize(GgmlType.Q8_0, out, 0, new float[31], 0, 32));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Quantize.quantizeQ8_0(new float[64], 0, 64, out, 0));
        assertTrue(e.getMessage().contains("need 68 bytes"), e.getMessage());
    }
}
