package dev.winnow.gguf;

import dev.winnow.tensors.GgmlType;

import java.util.Arrays;
import java.util.Objects;

/**
 * A tensor's description from a GGUF file.
 *
 * @param name   the tensor's name
 * @param shape  ggml's {@code ne}: the dimensions, innermost (contiguous) first, 1 to 4 of them, each at least 1.
 *               Empty tensors are refused: ggml files never hold them, and a zero-size tensor would need no bytes
 *               and so could not be checked against the file.
 * @param type   the storage type; {@code shape[0]} is a whole number of its blocks
 * @param offset where the tensor's bytes start, relative to the start of the file's data section
 */
public record GgufTensorInfo(String name, long[] shape, GgmlType type, long offset) {
    /** Most dimensions a ggml tensor has. */
    public static final int MAX_DIMENSIONS = 4;

    /**
     * @throws IllegalArgumentException if the shape is not valid for the type (see {@link #shapeProblem}) or the
     *                                  offset is negative
     */
    public GgufTensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        shape = shape.clone();
        String problem = shapeProblem(shape, type);
        if (problem != null) {
            throw new IllegalArgumentException("tensor '" + name + "': " + problem);
        }
        if (offset < 0) {
            throw new IllegalArgumentException("tensor '" + name + "': negative offset " + offset);
        }
    }

    /**
     * What is wrong with a shape for a type, or null when nothing is: 1 to 4 dimensions, each at least 1, the
     * innermost a whole number of blocks, and both the element count and the byte size within a long.
     * Dimensions are read as unsigned (a negative one stands for a value above 2^63).
     */
    static String shapeProblem(long[] shape, GgmlType type) {
        if (shape.length < 1 || shape.length > MAX_DIMENSIONS) {
            return "has " + shape.length + " dimensions; 1 to " + MAX_DIMENSIONS + " are allowed";
        }
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] <= 0) {
                return "dimension " + i + " is " + Long.toUnsignedString(shape[i]) + "; each must be 1 to 2^63-1";
            }
            try {
                elements = Math.multiplyExact(elements, shape[i]);
            } catch (ArithmeticException overflow) {
                return "shape " + Arrays.toString(shape) + " has more than 2^63-1 elements";
            }
        }
        if (shape[0] % type.blockSize() != 0) {
            return "row of " + shape[0] + " elements is not a whole number of " + type + " blocks of "
                    + type.blockSize();
        }
        if (elements / type.blockSize() > Long.MAX_VALUE / type.blockBytes()) {
            return "shape " + Arrays.toString(shape) + " of " + type + " takes more than 2^63-1 bytes";
        }
        return null;
    }

    /** A copy of the dimensions, innermost first. */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** The number of dimensions. */
    public int dimensions() {
        return shape.length;
    }

    /** The number of values, the product of the dimensions. */
    public long elementCount() {
        long elements = 1;
        for (long dimension : shape) {
            elements *= dimension;
        }
        return elements;
    }

    /** The bytes the tensor's data takes. */
    public long byteSize() {
        return type.rowBytes(elementCount());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufTensorInfo other && name.equals(other.name) && Arrays.equals(shape, other.shape)
                && type == other.type && offset == other.offset;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, Arrays.hashCode(shape), type, offset);
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Arrays.toString(shape) + " @" + offset;
    }
}
