package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.BYTE;
import static dev.winnow.tensors.Vectors.BYTE_PARTS;
import static dev.winnow.tensors.Vectors.INT;
import static dev.winnow.tensors.Vectors.LANES;
import static dev.winnow.tensors.Vectors.LE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.stream.IntStream;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * What the kernels of the formats added after Q8_0 and Q4_0 share: loading {@link Vectors#LANES} packed bytes as
 * int lanes, and the twelve bytes in which Q4_K and Q5_K keep the 6-bit scales and mins of their eight
 * sub-blocks (ggml's {@code get_scale_min_k4} layout: sub-blocks 0-3 in the low 6 bits of bytes 0-3 (scales)
 * and 4-7 (mins); sub-blocks 4-7 in the nibbles of bytes 8-11, their top two bits in the top bits of bytes 0-7).
 */
final class KQuants {
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Values per super-block of the K formats. */
    static final int SUPER_BLOCK = 256;
    /** Bytes of packed 6-bit scales and mins in Q4_K and Q5_K. */
    static final int SCALE_BYTES = 12;
    /** Sub-blocks of 32 values, each with a scale and a min, in a Q4_K or Q5_K super-block. */
    static final int SUB_BLOCKS = 8;

    private KQuants() {
    }

    /**
     * Bytes [runStart + chunk * LANES, + LANES) as ints (sign-extended: callers mask the bits they use). With 4 float
     * lanes a byte vector holds two chunks, so the load starts at the even chunk and takes the wanted half.
     */
    static IntVector bytesAsInts(MemorySegment data, long runStart, int chunk) {
        long at = runStart + (long) (chunk / BYTE_PARTS) * BYTE.length();
        return (IntVector) ByteVector.fromMemorySegment(BYTE, data, at, LE)
                .convertShape(VectorOperators.B2I, INT, chunk % BYTE_PARTS);
    }

    /** The first eight of the twelve packed scale bytes of a Q4_K or Q5_K block, as one little-endian long. */
    static long scaleBytesLow(MemorySegment data, long blockStart) {
        return data.get(LE_LONG, blockStart + 4);
    }

    /** The last four packed scale bytes, as one little-endian int. */
    static int scaleBytesHigh(MemorySegment data, long blockStart) {
        return data.get(LE_INT, blockStart + 12);
    }

    /** The 6-bit scale of sub-block j (0..7), from the packed bytes as {@link #scaleBytesLow}/{@link #scaleBytesHigh}. */
    static int scale(long low, int high, int j) {
        return j < 4 ? (int) (low >>> 8 * j) & 63
                : (high >>> 8 * (j - 4)) & 0xF | ((int) (low >>> 8 * (j - 4) + 6) & 3) << 4;
    }

    /** The 6-bit min of sub-block j (0..7), as {@link #scale}. */
    static int min(long low, int high, int j) {
        return j < 4 ? (int) (low >>> 8 * (j + 4)) & 63
                : (high >>> 8 * (j - 4) + 4) & 0xF | ((int) (low >>> 8 * j + 6) & 3) << 4;
    }

    /**
     * The nibbles of values [chunk * LANES, (chunk + 1) * LANES) of a 32-value block whose 16 quant bytes start at
     * {@code quantsAt} (Q4_0 order: value j in the low nibble of byte j, value j + 16 in its high nibble).
     */
    static IntVector blockNibbles(MemorySegment data, long quantsAt, int chunk) {
        int lowChunks = 16 / LANES;
        IntVector packed = bytesAsInts(data, quantsAt, chunk % lowChunks);
        return chunk < lowChunks ? packed.and(0x0F) : packed.lanewise(VectorOperators.ASHR, 4).and(0x0F);
    }

    /** 16 where bit v of {@code fifthBits} is set, for the values v of chunk {@code chunk} of a 32-value block. */
    static IntVector fifthBits(int fifthBits, int chunk) {
        return IntVector.broadcast(INT, fifthBits)
                .lanewise(VectorOperators.LSHR, IntVector.fromArray(INT, BIT_INDEX, chunk * LANES))
                .and(1).lanewise(VectorOperators.LSHL, 4);
    }

    private static final int[] BIT_INDEX = IntStream.range(0, 32).toArray();

    /** Packs eight 6-bit scales and mins (each 0..63) into the twelve bytes at {@code scalesAt}. */
    static void packScalesAndMins(int[] scales, int[] mins, MemorySegment data, long scalesAt) {
        for (int j = 0; j < 4; j++) {
            int high = scales[j + 4];
            int highMin = mins[j + 4];
            data.set(ValueLayout.JAVA_BYTE, scalesAt + j, (byte) (scales[j] | (high >> 4) << 6));
            data.set(ValueLayout.JAVA_BYTE, scalesAt + j + 4, (byte) (mins[j] | (highMin >> 4) << 6));
            data.set(ValueLayout.JAVA_BYTE, scalesAt + j + 8, (byte) ((high & 0xF) | (highMin & 0xF) << 4));
        }
    }


}
