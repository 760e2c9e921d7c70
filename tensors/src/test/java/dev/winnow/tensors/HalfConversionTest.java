package dev.winnow.tensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/** The half and bfloat16 decoders over every one of the 65536 bit patterns, and the bulk half conversion. */
class HalfConversionTest {
    private static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Conversions of the 65536 patterns before the one checked: enough for the JIT to compile the loops. */
    private static final int ROUNDS = 50;

    /**
     * Row of all 65536 patterns, read back through the tensor's vector path (65536 is a whole number of vectors), the
     * last of {@link #ROUNDS} times: the loops are then compiled, so the processor's own conversion is what is checked.
     */
    private static float[] decodeAllPatterns(GgmlType type) {
        MemorySegment s = MemorySegment.ofArray(new byte[2 * 65536]);
        for (int bits = 0; bits < 65536; bits++) {
            s.set(LE_SHORT, 2L * bits, (short) bits);
        }
        float[] out = new float[65536];
        FloatTensor tensor = FloatTensor.of(type, s, 1, 65536);
        for (int round = 0; round < ROUNDS; round++) {
            tensor.dequantizeRow(0, out, 0);
        }
        return out;
    }

    @Example
    void everyHalfDecodesLikeTheJdk() {
        float[] out = decodeAllPatterns(GgmlType.F16);
        for (int bits = 0; bits < 65536; bits++) {
            assertHalfDecoded(bits, out[bits]);
        }
    }

    /** The bulk conversion from an array (what KV cache pages of halves can use), over every pattern. */
    @Example
    void everyHalfConvertsFromAnArrayLikeTheJdk() {
        short[] halves = new short[65536];
        for (int bits = 0; bits < 65536; bits++) {
            halves[bits] = (short) bits;
        }
        float[] out = new float[65536];
        for (int round = 0; round < ROUNDS; round++) {
            F16Tensor.toFloats(halves, 0, out, 0, 65536);
        }
        for (int bits = 0; bits < 65536; bits++) {
            assertHalfDecoded(bits, out[bits]);
        }
    }

    /** Any slice converts as its values one by one, from a segment at any byte offset and from an array. */
    @Property(tries = 200)
    void slicesConvertLikeTheirValuesOneByOne(@ForAll @IntRange(max = 300) int from, @ForAll @IntRange(max = 700) int count,
                                              @ForAll @IntRange(max = 5) int outOffset, @ForAll long seed) {
        Random random = new Random(seed);
        short[] halves = new short[from + count];
        MemorySegment segment = MemorySegment.ofArray(new byte[2 * (from + count) + 1]);
        for (int i = 0; i < halves.length; i++) {
            halves[i] = (short) random.nextInt(65536);
            segment.set(LE_SHORT, 1 + 2L * i, halves[i]);
        }
        float[] fromArray = new float[outOffset + count];
        float[] fromSegment = new float[outOffset + count];
        F16Tensor.toFloats(halves, from, fromArray, outOffset, count);
        F16Tensor.toFloats(segment, 1 + 2L * from, fromSegment, outOffset, count);
        for (int i = 0; i < count; i++) {
            int bits = halves[from + i] & 0xFFFF;
            assertHalfDecoded(bits, fromArray[outOffset + i]);
            assertHalfDecoded(bits, fromSegment[outOffset + i]);
        }
    }

    @Example
    void slicesOutsideTheArraysAreRefused() {
        assertThrows(IndexOutOfBoundsException.class, () -> F16Tensor.toFloats(new short[4], 2, new float[4], 0, 3));
        assertThrows(IndexOutOfBoundsException.class, () -> F16Tensor.toFloats(new short[4], 0, new float[4], 2, 3));
    }

    /**
     * The float decoded from half {@code bits} is the JDK's and the exact value's; for a NaN, sign and payload are
     * kept and only the quiet bit (which the processor's conversion sets and the interpreted JDK code may not) can
     * differ.
     */
    private static void assertHalfDecoded(int bits, float decoded) {
        float jdk = Float.float16ToFloat((short) bits);
        int got = Float.floatToRawIntBits(decoded);
        int expected = Float.floatToRawIntBits(jdk);
        if (Float.isNaN(jdk)) {
            int quietBit = 0x0040_0000;
            assertTrue(Float.isNaN(decoded), "half " + Integer.toHexString(bits));
            assertEquals(expected & ~quietBit, got & ~quietBit, "half " + Integer.toHexString(bits));
        } else {
            assertEquals(expected, got, "half " + Integer.toHexString(bits));
            assertEquals(KernelReference.half(bits), decoded, 0.0, "half " + Integer.toHexString(bits));
        }
    }

    @Example
    void everyBfloat16DecodesToTheFloatWithThoseTopBits() {
        float[] out = decodeAllPatterns(GgmlType.BF16);
        for (int bits = 0; bits < 65536; bits++) {
            assertEquals(bits << 16, Float.floatToRawIntBits(out[bits]), "bfloat16 " + Integer.toHexString(bits));
        }
    }

    @Example
    void scalarTailsDecodeLikeTheVectorBody() {
        // 65536 + 5 values: the last five go through the scalar tail.
        for (GgmlType type : new GgmlType[] {GgmlType.F16, GgmlType.BF16}) {
            MemorySegment s = MemorySegment.ofArray(new byte[2 * 65541]);
            for (int i = 0; i < 65541; i++) {
                s.set(LE_SHORT, 2L * i, (short) (i < 65536 ? i : 0x3C00 + 7 * i));
            }
            float[] out = new float[65541];
            FloatTensor.of(type, s, 1, 65541).dequantizeRow(0, out, 0);
            for (int i = 65536; i < 65541; i++) {
                short bits = (short) (0x3C00 + 7 * i);
                float expected = type == GgmlType.F16 ? Float.float16ToFloat(bits) : Float.intBitsToFloat(bits << 16);
                assertEquals(expected, out[i]);
            }
        }
    }
}
