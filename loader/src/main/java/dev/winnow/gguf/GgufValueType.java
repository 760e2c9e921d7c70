package dev.winnow.gguf;

import java.util.Optional;

/**
 * The types a GGUF metadata value can have, with the id the file stores, the Java class that holds a single value
 * and the Java array class that holds an array of them (see {@link GgufValue} and {@link GgufArray}).
 */
public enum GgufValueType {
    UINT8(0, 1, Byte.class, byte[].class),
    INT8(1, 1, Byte.class, byte[].class),
    UINT16(2, 2, Short.class, short[].class),
    INT16(3, 2, Short.class, short[].class),
    UINT32(4, 4, Integer.class, int[].class),
    INT32(5, 4, Integer.class, int[].class),
    FLOAT32(6, 4, Float.class, float[].class),
    BOOL(7, 1, Boolean.class, boolean[].class),
    /** u64 byte length, then that many bytes of UTF-8. */
    STRING(8, 8, String.class, String[].class),
    /** u32 element type, u64 element count, then the elements. */
    ARRAY(9, 12, GgufArray.class, GgufArray[].class),
    UINT64(10, 8, Long.class, long[].class),
    INT64(11, 8, Long.class, long[].class),
    FLOAT64(12, 8, Double.class, double[].class);

    private static final GgufValueType[] BY_ID = new GgufValueType[13];

    static {
        for (GgufValueType t : values()) {
            BY_ID[t.id] = t;
        }
    }

    private final int id;
    private final int minEncodedBytes;
    private final Class<?> valueClass;
    private final Class<?> arrayClass;

    GgufValueType(int id, int minEncodedBytes, Class<?> valueClass, Class<?> arrayClass) {
        this.id = id;
        this.minEncodedBytes = minEncodedBytes;
        this.valueClass = valueClass;
        this.arrayClass = arrayClass;
    }

    /** The id GGUF stores for this type. */
    public int id() {
        return id;
    }

    /** The type with this id, if GGUF defines one. */
    public static Optional<GgufValueType> find(long id) {
        return id >= 0 && id < BY_ID.length ? Optional.of(BY_ID[(int) id]) : Optional.empty();
    }

    /**
     * The type with this id.
     *
     * @throws IllegalArgumentException if GGUF defines no such type
     */
    public static GgufValueType fromId(long id) {
        return find(id).orElseThrow(() -> new IllegalArgumentException("unknown GGUF value type id " + id));
    }

    /** Whether the type is one of the eight integer types. */
    public boolean isInteger() {
        return valueClass == Byte.class || valueClass == Short.class || valueClass == Integer.class
                || valueClass == Long.class;
    }

    /** The fewest bytes one value of this type takes in a file (the exact size for fixed-size types). */
    int minEncodedBytes() {
        return minEncodedBytes;
    }

    /** Whether every value of this type takes {@link #minEncodedBytes()} bytes. */
    boolean isFixedSize() {
        return this != STRING && this != ARRAY;
    }

    /** The class of a single value of this type inside a {@link GgufValue}. */
    Class<?> valueClass() {
        return valueClass;
    }

    /** The array class holding the elements of a {@link GgufArray} of this element type. */
    Class<?> arrayClass() {
        return arrayClass;
    }
}
