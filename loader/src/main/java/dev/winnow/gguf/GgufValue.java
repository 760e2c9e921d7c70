package dev.winnow.gguf;

import java.util.Objects;

/**
 * One GGUF metadata value. The Java class of {@code value} is fixed by the type: UINT8/INT8 {@link Byte},
 * UINT16/INT16 {@link Short}, UINT32/INT32 {@link Integer}, UINT64/INT64 {@link Long} (unsigned types keep the raw
 * bits; the type says how to read them), FLOAT32 {@link Float}, FLOAT64 {@link Double}, BOOL {@link Boolean},
 * STRING {@link String}, ARRAY {@link GgufArray}.
 * The {@code asX} readers throw {@link IllegalStateException} naming the actual type when the value is not of a
 * fitting type or out of range.
 */
public record GgufValue(GgufValueType type, Object value) {

    public GgufValue {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(value, "value");
        if (!type.valueClass().isInstance(value)) {
            throw new IllegalArgumentException("a %s value is held as %s, not %s"
                    .formatted(type, type.valueClass().getSimpleName(), value.getClass().getSimpleName()));
        }
    }

    public static GgufValue ofUInt8(byte bits) {
        return new GgufValue(GgufValueType.UINT8, bits);
    }

    public static GgufValue ofInt8(byte value) {
        return new GgufValue(GgufValueType.INT8, value);
    }

    public static GgufValue ofUInt16(short bits) {
        return new GgufValue(GgufValueType.UINT16, bits);
    }

    public static GgufValue ofInt16(short value) {
        return new GgufValue(GgufValueType.INT16, value);
    }

    public static GgufValue ofUInt32(int bits) {
        return new GgufValue(GgufValueType.UINT32, bits);
    }

    public static GgufValue ofInt32(int value) {
        return new GgufValue(GgufValueType.INT32, value);
    }

    public static GgufValue ofUInt64(long bits) {
        return new GgufValue(GgufValueType.UINT64, bits);
    }

    public static GgufValue ofInt64(long value) {
        return new GgufValue(GgufValueType.INT64, value);
    }

    public static GgufValue ofFloat32(float value) {
        return new GgufValue(GgufValueType.FLOAT32, value);
    }

    public static GgufValue ofFloat64(double value) {
        return new GgufValue(GgufValueType.FLOAT64, value);
    }

    public static GgufValue ofBool(boolean value) {
        return new GgufValue(GgufValueType.BOOL, value);
    }

    public static GgufValue ofString(String value) {
        return new GgufValue(GgufValueType.STRING, value);
    }

    public static GgufValue ofArray(GgufArray value) {
        return new GgufValue(GgufValueType.ARRAY, value);
    }

    /** The value of any integer type; unsigned types are zero-extended. */
    public long asLong() {
        return switch (type) {
            case UINT8 -> Byte.toUnsignedLong((Byte) value);
            case UINT16 -> Short.toUnsignedLong((Short) value);
            case UINT32 -> Integer.toUnsignedLong((Integer) value);
            case UINT64 -> {
                long bits = (Long) value;
                if (bits < 0) {
                    throw new IllegalStateException("UINT64 value " + Long.toUnsignedString(bits) + " does not fit in a long");
                }
                yield bits;
            }
            case INT8, INT16, INT32, INT64 -> ((Number) value).longValue();
            default -> throw wrongType("an integer");
        };
    }

    /** The value of any integer type that fits in an int. */
    public int asInt() {
        long v = asLong();
        if ((int) v != v) {
            throw new IllegalStateException(this + " does not fit in an int");
        }
        return (int) v;
    }

    /** The value of any integer or floating-point type (rounded to the nearest double for large 64-bit integers). */
    public double asDouble() {
        return switch (type) {
            case FLOAT32, FLOAT64 -> ((Number) value).doubleValue();
            case UINT64 -> unsignedToDouble((Long) value);
            default -> {
                if (!type.isInteger()) {
                    throw wrongType("a number");
                }
                yield asLong();
            }
        };
    }

    /** {@link #asDouble()} rounded to float. */
    public float asFloat() {
        return (float) asDouble();
    }

    public boolean asBool() {
        if (type != GgufValueType.BOOL) {
            throw wrongType("a BOOL");
        }
        return (Boolean) value;
    }

    public String asString() {
        if (type != GgufValueType.STRING) {
            throw wrongType("a STRING");
        }
        return (String) value;
    }

    public GgufArray asArray() {
        if (type != GgufValueType.ARRAY) {
            throw wrongType("an ARRAY");
        }
        return (GgufArray) value;
    }

    private IllegalStateException wrongType(String wanted) {
        return new IllegalStateException("wanted " + wanted + " but the value is " + this);
    }

    private static double unsignedToDouble(long bits) {
        // Halve (keeping the lowest bit so rounding stays correct), convert, double again.
        return bits >= 0 ? bits : ((bits >>> 1) | (bits & 1)) * 2.0;
    }

    @Override
    public String toString() {
        return type + " " + render(type, value);
    }

    /** The value as text: unsigned integers as unsigned, strings quoted. */
    static String render(GgufValueType type, Object value) {
        return switch (type) {
            case UINT8 -> Integer.toString(Byte.toUnsignedInt((Byte) value));
            case UINT16 -> Integer.toString(Short.toUnsignedInt((Short) value));
            case UINT32 -> Integer.toUnsignedString((Integer) value);
            case UINT64 -> Long.toUnsignedString((Long) value);
            case STRING -> '"' + (String) value + '"';
            default -> value.toString();
        };
    }
}
