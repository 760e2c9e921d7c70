package dev.winnow.tensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import net.jqwik.api.Example;

/** The in-vector half and bfloat16 decoders over every one of the 65536 bit patterns. */
class HalfConversionTest {
    private static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Row of all 65536 patterns, read back through the tensor's vector path (65536 is a whole number of vectors). */
    private static float[] decodeAllPatterns(GgmlType type) {
        MemorySegment s = MemorySegment.ofArray(new byte[2 * 65536]);
        for (int bits = 0; bits < 65536; bits++) {
            s.set(LE_SHORT, 2L * bits, (short) bits);
        }
        float[] out = new float[65536];
        FloatTensor.of(type, s, 1, 65536).dequantizeRow(0, out, 0);
        return out;
    }

    @Example
    void everyHalfDecodesLikeTheJdk() {
        float[] out = decodeAllPatterns(GgmlType.F16);
        for (int bits = 0; bits < 65536; bits++) {
            float jdk = Float.float16ToFloat((short) bits);
            int got = Float.floatToRawIntBits(out[bits]);
            int expected = Float.floatToRawIntBits(jdk);
            if (Float.isNaN(jdk)) {
                // Sign and payload kept; only the quiet bit (which the JDK's hardware conversion may set) can differ.
                int quietBit = 0x0040_0000;
                assertTrue(Float.isNaN(out[bits]), "half " + Integer.toHexString(bits));
                assertEquals(expected & ~quietBit, got & ~quietBit, "half " + Integer.toHexString(bits));
            } else {
                assertEquals(expected, got, "half " + Integer.toHexString(bits));
                assertEquals(KernelReference.half(bits), out[bits], 0.0, "half " + Integer.toHexString(bits));
            }
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
