package dev.winnow.gguf;

import java.lang.reflect.Array;
import java.util.Arrays;
import java.util.Objects;
import java.util.StringJoiner;

/**
 * A GGUF metadata array: all elements share one type. The elements are held in a Java array whose class is fixed by
 * the element type: {@code byte[]} (UINT8/INT8), {@code short[]} (UINT16/INT16), {@code int[]} (UINT32/INT32),
 * {@code long[]} (UINT64/INT64), {@code float[]}, {@code double[]}, {@code boolean[]}, {@code String[]}, or
 * {@code GgufArray[]} for nested arrays (each of which has its own element type).
 * The array is copied in and copied out, so an instance never changes; equality compares the elements.
 */
public record GgufArray(GgufValueType elementType, Object values) {
    /** The deepest nesting accepted (an array of plain values has depth 1). */
    public static final int MAX_DEPTH = 16;

    public GgufArray {
        Objects.requireNonNull(elementType, "elementType");
        Objects.requireNonNull(values, "values");
        if (!elementType.arrayClass().isInstance(values)) {
            throw new IllegalArgumentException("an array of %s is held as %s, not %s".formatted(elementType,
                    elementType.arrayClass().getSimpleName(), values.getClass().getSimpleName()));
        }
        values = copy(values);
        if (values instanceof Object[] objects) {
            for (int i = 0; i < objects.length; i++) {
                if (objects[i] == null) {
                    throw new IllegalArgumentException("element " + i + " of an array of " + elementType + " is null");
                }
            }
        }
        if (values instanceof GgufArray[] nested) {
            for (GgufArray element : nested) {
                if (element.depth() >= MAX_DEPTH) {
                    throw new IllegalArgumentException("arrays nest deeper than " + MAX_DEPTH + " levels");
                }
            }
        }
    }

    public static GgufArray ofStrings(String... values) {
        return new GgufArray(GgufValueType.STRING, values);
    }

    public static GgufArray ofFloat32s(float... values) {
        return new GgufArray(GgufValueType.FLOAT32, values);
    }

    public static GgufArray ofInt32s(int... values) {
        return new GgufArray(GgufValueType.INT32, values);
    }

    public static GgufArray ofArrays(GgufArray... values) {
        return new GgufArray(GgufValueType.ARRAY, values);
    }

    /** A copy of the elements. */
    @Override
    public Object values() {
        return copy(values);
    }

    public int size() {
        return Array.getLength(values);
    }

    /** Levels of nesting: 1 for an array of plain values. */
    public int depth() {
        int deepestElement = 0;
        if (values instanceof GgufArray[] nested) {
            for (GgufArray element : nested) {
                deepestElement = Math.max(deepestElement, element.depth());
            }
        }
        return 1 + deepestElement;
    }

    /** Element {@code index} as a value of the element type. */
    public GgufValue element(int index) {
        Objects.checkIndex(index, size());
        return new GgufValue(elementType, Array.get(values, index));
    }

    /** The elements of a UINT8 or INT8 array. */
    public byte[] bytes() {
        return copyAs(byte[].class);
    }

    /** The elements of a UINT16 or INT16 array. */
    public short[] shorts() {
        return copyAs(short[].class);
    }

    /** The elements of a UINT32 or INT32 array (raw bits for UINT32). */
    public int[] ints() {
        return copyAs(int[].class);
    }

    /** The elements of a UINT64 or INT64 array (raw bits for UINT64). */
    public long[] longs() {
        return copyAs(long[].class);
    }

    public float[] floats() {
        return copyAs(float[].class);
    }

    public double[] doubles() {
        return copyAs(double[].class);
    }

    public boolean[] booleans() {
        return copyAs(boolean[].class);
    }

    public String[] strings() {
        return copyAs(String[].class);
    }

    /** The elements of a nested array. */
    public GgufArray[] arrays() {
        return copyAs(GgufArray[].class);
    }

    private <T> T copyAs(Class<T> arrayClass) {
        if (elementType.arrayClass() != arrayClass) {
            throw new IllegalStateException("an array of %s cannot be read as %s"
                    .formatted(elementType, arrayClass.getSimpleName()));
        }
        return arrayClass.cast(copy(values));
    }

    private static Object copy(Object array) {
        return switch (array) {
            case byte[] a -> a.clone();
            case short[] a -> a.clone();
            case int[] a -> a.clone();
            case long[] a -> a.clone();
            case float[] a -> a.clone();
            case double[] a -> a.clone();
            case boolean[] a -> a.clone();
            case Object[] a -> a.clone();
            default -> throw new IllegalArgumentException("not an array: " + array.getClass());
        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufArray other && elementType == other.elementType
                && Objects.deepEquals(values, other.values);
    }

    @Override
    public int hashCode() {
        return 31 * elementType.hashCode() + Arrays.deepHashCode(new Object[] {values});
    }

    /** The type, the size and the first few elements. */
    @Override
    public String toString() {
        int size = size();
        StringJoiner shown = new StringJoiner(", ", elementType + "[" + size + "]{", size > 8 ? ", ...}" : "}");
        for (int i = 0; i < Math.min(size, 8); i++) {
            shown.add(GgufValue.render(elementType, Array.get(values, i)));
        }
        return shown.toString();
    }
}
