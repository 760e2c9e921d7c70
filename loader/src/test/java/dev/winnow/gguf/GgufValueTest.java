package dev.winnow.gguf;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;

import java.math.BigInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GgufValueTest {

    @Test
    void unsignedTypesAreZeroExtended() {
        assertEquals(255, GgufValue.ofUInt8((byte) -1).asLong());
        assertEquals(-1, GgufValue.ofInt8((byte) -1).asLong());
        assertEquals(65535, GgufValue.ofUInt16((short) -1).asInt());
        assertEquals(-1, GgufValue.ofInt16((short) -1).asInt());
        assertEquals(4294967295L, GgufValue.ofUInt32(-1).asLong());
        assertEquals(Long.MAX_VALUE, GgufValue.ofUInt64(Long.MAX_VALUE).asLong());
        assertEquals(Long.MIN_VALUE, GgufValue.ofInt64(Long.MIN_VALUE).asLong());
        assertEquals("UINT32 4294967295", GgufValue.ofUInt32(-1).toString());
        assertEquals("UINT8 255", GgufValue.ofUInt8((byte) -1).toString());
    }

    @Test
    void valuesOutOfRangeAreRefusedClearly() {
        IllegalStateException tooBig = assertThrows(IllegalStateException.class, () -> GgufValue.ofUInt64(-1).asLong());
        assertTrue(tooBig.getMessage().contains("18446744073709551615"), tooBig.getMessage());
        IllegalStateException notInt = assertThrows(IllegalStateException.class, () -> GgufValue.ofUInt32(-1).asInt());
        assertTrue(notInt.getMessage().contains("UINT32 4294967295 does not fit in an int"), notInt.getMessage());
        assertThrows(IllegalStateException.class, () -> GgufValue.ofInt64(1L << 31).asInt());
        assertEquals(Integer.MIN_VALUE, GgufValue.ofInt64(Integer.MIN_VALUE).asInt());
    }

    @Test
    void wrongTypeNamesTheActualType() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> GgufValue.ofString("llama").asInt());
        assertEquals("wanted an integer but the value is STRING \"llama\"", e.getMessage());
        assertTrue(assertThrows(IllegalStateException.class, () -> GgufValue.ofInt32(3).asString())
                .getMessage().contains("INT32 3"));
        assertTrue(assertThrows(IllegalStateException.class, () -> GgufValue.ofFloat32(1).asBool())
                .getMessage().contains("FLOAT32"));
        assertTrue(assertThrows(IllegalStateException.class, () -> GgufValue.ofBool(true).asDouble())
                .getMessage().contains("BOOL true"));
        assertTrue(assertThrows(IllegalStateException.class, () -> GgufValue.ofBool(true).asArray())
                .getMessage().contains("an ARRAY"));
    }

    @Test
    void numbersConvertToFloatingPoint() {
        assertEquals(1e-5f, GgufValue.ofFloat32(1e-5f).asFloat());
        assertEquals(0.1, GgufValue.ofFloat64(0.1).asDouble());
        assertEquals(4294967295.0, GgufValue.ofUInt32(-1).asDouble());
        assertEquals(-3.0f, GgufValue.ofInt16((short) -3).asFloat());
    }

    @Property(tries = 500)
    void uint64AsDoubleIsTheRoundedUnsignedValue(@ForAll long bits) {
        double expected = new BigInteger(Long.toUnsignedString(bits)).doubleValue();
        assertEquals(expected, GgufValue.ofUInt64(bits).asDouble());
    }

    @Test
    void constructorChecksThePairing() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new GgufValue(GgufValueType.UINT32, 5L));
        assertEquals("a UINT32 value is held as Integer, not Long", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new GgufValue(GgufValueType.ARRAY, new int[0]));
        assertThrows(NullPointerException.class, () -> new GgufValue(GgufValueType.STRING, null));
    }

    @Test
    void valueTypesByIdRoundTrip() {
        for (GgufValueType type : GgufValueType.values()) {
            assertEquals(type, GgufValueType.fromId(type.id()));
        }
        assertEquals(12, GgufValueType.FLOAT64.id());
        assertTrue(GgufValueType.find(13).isEmpty());
        assertTrue(GgufValueType.find(-1).isEmpty());
        assertEquals("unknown GGUF value type id 13",
                assertThrows(IllegalArgumentException.class, () -> GgufValueType.fromId(13)).getMessage());
    }

    @Test
    void arraysAreCopiedInAndOut() {
        int[] source = {1, 2, 3};
        GgufArray array = GgufArray.ofInt32s(source);
        source[0] = 99;
        assertArrayEquals(new int[] {1, 2, 3}, array.ints());
        array.ints()[1] = 99;
        ((int[]) array.values())[2] = 99;
        assertArrayEquals(new int[] {1, 2, 3}, array.ints());
    }

    @Test
    void arrayEqualityComparesElements() {
        GgufArray nested = GgufArray.ofArrays(GgufArray.ofStrings("a", "b"), GgufArray.ofFloat32s(Float.NaN, -0f));
        GgufArray same = GgufArray.ofArrays(GgufArray.ofStrings("a", "b"), GgufArray.ofFloat32s(Float.NaN, -0f));
        assertEquals(nested, same);
        assertEquals(nested.hashCode(), same.hashCode());
        assertEquals(GgufValue.ofArray(nested), GgufValue.ofArray(same));
        assertNotEquals(nested, GgufArray.ofArrays(GgufArray.ofStrings("a", "b"), GgufArray.ofFloat32s(Float.NaN, 0f)));
        assertNotEquals(new GgufArray(GgufValueType.UINT32, new int[] {1}), new GgufArray(GgufValueType.INT32, new int[] {1}));
        assertEquals(2, nested.depth());
    }

    @Test
    void arrayElementsAndDescription() {
        GgufArray ids = new GgufArray(GgufValueType.UINT16, new short[] {-1, 7});
        assertEquals(GgufValue.ofUInt16((short) -1), ids.element(0));
        assertEquals(65535, ids.element(0).asInt());
        assertEquals("UINT16[2]{65535, 7}", ids.toString());
        assertEquals("INT32[9]{0, 1, 2, 3, 4, 5, 6, 7, ...}", GgufArray.ofInt32s(0, 1, 2, 3, 4, 5, 6, 7, 8).toString());
        assertThrows(IndexOutOfBoundsException.class, () -> ids.element(2));
    }

    @Test
    void arrayConstructorChecksItsInput() {
        assertEquals("an array of INT32 is held as int[], not long[]", assertThrows(IllegalArgumentException.class,
                () -> new GgufArray(GgufValueType.INT32, new long[1])).getMessage());
        assertEquals("element 1 of an array of STRING is null", assertThrows(IllegalArgumentException.class,
                () -> GgufArray.ofStrings("a", null)).getMessage());
        assertThrows(IllegalStateException.class, () -> GgufArray.ofStrings("a").floats());
        GgufArray deepest = GgufArray.ofInt32s();
        for (int depth = 1; depth < GgufArray.MAX_DEPTH; depth++) {
            deepest = GgufArray.ofArrays(deepest);
        }
        assertEquals(GgufArray.MAX_DEPTH, deepest.depth());
        GgufArray tooDeepInside = deepest;
        assertThrows(IllegalArgumentException.class, () -> GgufArray.ofArrays(tooDeepInside));
    }
}
