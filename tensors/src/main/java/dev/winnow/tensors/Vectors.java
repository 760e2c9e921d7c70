package dev.winnow.tensors;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector species every kernel uses, all derived from the machine's preferred float width so that
 * one piece of code serves 128-, 256- and 512-bit hardware.
 */
final class Vectors {
    private Vectors() {
    }

    /**
     * The float species: the preferred one, kept within 128..512 bits. Below 128 bits there would be no
     * short species with as many lanes; above 512 bits a 32-value quantized block would not fill a vector.
     */
    static final VectorSpecies<Float> FLOAT = FloatVector.SPECIES_PREFERRED.vectorBitSize() > 512
            ? FloatVector.SPECIES_512
            : FloatVector.SPECIES_PREFERRED.vectorBitSize() < 128 ? FloatVector.SPECIES_128 : FloatVector.SPECIES_PREFERRED;

    /** Float lanes per vector: 4, 8 or 16. */
    static final int LANES = FLOAT.length();

    /** Ints with the float lane count (same shape): bit manipulation of float lanes. */
    static final VectorSpecies<Integer> INT = FLOAT.withLanes(int.class);

    /** Shorts with the float lane count (half the bits): one load gives one float vector of F16/BF16 values. */
    static final VectorSpecies<Short> SHORT = VectorSpecies.of(short.class, VectorShape.forBitSize(FLOAT.vectorBitSize() / 2));

    /**
     * Bytes for the quantized kernels: as many lanes as floats, except that no byte vector is narrower
     * than 64 bits, so with 4 float lanes one load holds two float vectors' worth ({@link #BYTE_PARTS}).
     */
    static final VectorSpecies<Byte> BYTE = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, LANES * 8)));

    /** Float vectors per byte vector (1, or 2 with 4 float lanes). */
    static final int BYTE_PARTS = BYTE.length() / LANES;

    static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /**
     * Shuffles that pair lane i with lane i ^ half, for half = LANES/2, LANES/4, ..., 1: the steps of a pairwise sum
     * in a fixed order.
     */
    private static final VectorShuffle<Float>[] HALVES = halves(FLOAT);

    @SuppressWarnings("unchecked")
    private static <E> VectorShuffle<E>[] halves(VectorSpecies<E> species) {
        int steps = Integer.numberOfTrailingZeros(species.length());
        VectorShuffle<E>[] shuffles = new VectorShuffle[steps];
        for (int s = 0; s < steps; s++) {
            int half = species.length() >> (s + 1);
            shuffles[s] = VectorShuffle.fromOp(species, i -> i ^ half);
        }
        return shuffles;
    }

    /**
     * The sum of the lanes, added pairwise in a fixed order. {@code reduceLanes(ADD)} leaves the order open, and
     * the interpreter and the compiled code do use different orders, so the same input could give different
     * floats before and after warm-up; this keeps every result reproducible.
     */
    static float sum(FloatVector v) {
        for (VectorShuffle<Float> shuffle : HALVES) {
            v = v.add(v.rearrange(shuffle));
        }
        return v.lane(0);
    }

    /** The sum of the lanes of a double vector, in a fixed order (see {@link #sum(FloatVector)}). */
    static double sum(DoubleVector v) {
        double total = 0;
        for (int i = 0; i < v.length(); i++) {
            total += v.lane(i);
        }
        return total;
    }

    /**
     * (float) (n - 8) * scale for the 4-bit value n in the low bits of each lane (Q4_0's quants; the bits above are
     * ignored), each lane exactly the float product. With 8 or 16 lanes the 16 possible products are computed once
     * (a multiply of the table, which the JIT shares between the chunks of a block) and each lane picks its own with
     * one permute instruction; with 4 lanes the 16-entry table does not fit in a vector and the value is computed.
     */
    static FloatVector scaledNibbles(IntVector lanes, FloatVector scale) {
        return switch (LANES) {
            case 16 -> lanes.selectFrom(NIBBLE_TABLE.mul(scale).reinterpretAsInts()).reinterpretAsFloats();
            case 8 -> lanes.selectFrom(NIBBLE_TABLE.mul(scale).reinterpretAsInts(), NIBBLE_TABLE_HIGH.mul(scale).reinterpretAsInts())
                    .reinterpretAsFloats();
            default -> ((FloatVector) lanes.and(0x0F).sub(8).convertShape(VectorOperators.I2F, FLOAT, 0)).mul(scale);
        };
    }

    /** (float) (n - 8) for n = 0 ..: all 16 entries with 16 lanes, the first 8 with 8 lanes. */
    private static final FloatVector NIBBLE_TABLE = nibbleTable(0);
    /** Entries 8 .. 15 with 8 lanes (the second half of the two-vector lookup); unused otherwise. */
    private static final FloatVector NIBBLE_TABLE_HIGH = nibbleTable(LANES);

    private static FloatVector nibbleTable(int first) {
        float[] values = new float[LANES];
        for (int i = 0; i < LANES; i++) {
            values[i] = (first + i) % 16 - 8;
        }
        return FloatVector.fromArray(FLOAT, values, 0);
    }

    /** Widens {@link #LANES} shorts to ints (sign-extending). */
    static IntVector widen(ShortVector shorts) {
        return (IntVector) shorts.convertShape(VectorOperators.S2I, INT, 0);
    }
}
