package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.BYTE;
import static dev.winnow.tensors.Vectors.BYTE_PARTS;
import static dev.winnow.tensors.Vectors.FLOAT;
import static dev.winnow.tensors.Vectors.INT;
import static dev.winnow.tensors.Vectors.LANES;
import static dev.winnow.tensors.Vectors.LE;
import static dev.winnow.tensors.Vectors.LE_SHORT;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * ggml's Q4_0: blocks of 32 values, each an fp16 scale d followed by 16 bytes; value j of the block is
 * in the low nibble of byte j and value j + 16 in its high nibble; value = d * (nibble - 8).
 * {@link #dotRow} and {@link #dequantizeRow} read that layout; matrix products read a {@link PackedBlocks} copy.
 */
public final class Q4_0Tensor extends FloatTensor {
    static final int BLOCK_SIZE = 32;
    static final int BLOCK_BYTES = 18;
    private static final int QUANTS_OFFSET = 2;
    private static final int QUANT_BYTES = BLOCK_SIZE / 2;
    /** Float vectors per block. */
    private static final int CHUNKS = BLOCK_SIZE / LANES;
    /** Chunks held in the low nibbles (the first half of the block); the rest are in the high nibbles. */
    private static final int LOW_CHUNKS = CHUNKS / 2;

    private volatile PackedBlocks packed;

    public Q4_0Tensor(MemorySegment data, int rows, int cols) {
        super(GgmlType.Q4_0, data, rows, cols);
    }

    @Override
    public GgmlType type() {
        return GgmlType.Q4_0;
    }

    @Override
    public float dotRow(int row, float[] x, int xOffset) {
        long rowStart = rowStart(row, x, xOffset);
        FloatVector acc = FloatVector.zero(FLOAT);
        for (int b = 0; b < cols / BLOCK_SIZE; b++) {
            long blockStart = rowStart + (long) b * BLOCK_BYTES;
            acc = blockDot(data, blockStart + QUANTS_OFFSET, scale(blockStart), x, xOffset + b * BLOCK_SIZE, acc);
        }
        return Vectors.sum(acc);
    }

    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long rowStart = rowStart(row, out, outOffset);
        for (int b = 0; b < cols / BLOCK_SIZE; b++) {
            long blockStart = rowStart + (long) b * BLOCK_BYTES;
            dequantizeBlock(data, blockStart + QUANTS_OFFSET, scale(blockStart), out, outOffset + b * BLOCK_SIZE);
        }
    }

    @Override
    void prepareProducts(WorkerPool pool) {
        if (packed == null) {
            synchronized (this) {
                if (packed == null) {
                    packed = PackedBlocks.pack(data, rows, cols / BLOCK_SIZE, BLOCK_BYTES, QUANT_BYTES, pool);
                    releaseMappedPages();
                }
            }
        }
    }

    @Override
    float productDot(int row, float[] x, int xOffset) {
        PackedBlocks p = packed;
        MemorySegment quants = p.quants();
        float[] scales = p.scales();
        int first = p.firstBlock(row);
        // Even and odd blocks sum into separate vectors: two dependency chains keep the FMA units busy.
        FloatVector even = FloatVector.zero(FLOAT);
        FloatVector odd = FloatVector.zero(FLOAT);
        int blocks = cols / BLOCK_SIZE;
        int b = 0;
        for (; b + 1 < blocks; b += 2) {
            long at = (long) (first + b) * QUANT_BYTES;
            even = blockDot(quants, at, scales[first + b], x, xOffset + b * BLOCK_SIZE, even);
            odd = blockDot(quants, at + QUANT_BYTES, scales[first + b + 1], x, xOffset + (b + 1) * BLOCK_SIZE, odd);
        }
        if (b < blocks) {
            even = blockDot(quants, (long) (first + b) * QUANT_BYTES, scales[first + b], x, xOffset + b * BLOCK_SIZE, even);
        }
        return Vectors.sum(even.add(odd));
    }

    @Override
    void productRow(int row, float[] out, int outOffset) {
        PackedBlocks p = packed;
        int first = p.firstBlock(row);
        for (int b = 0; b < cols / BLOCK_SIZE; b++) {
            dequantizeBlock(p.quants(), (long) (first + b) * QUANT_BYTES, p.scales()[first + b], out, outOffset + b * BLOCK_SIZE);
        }
    }

    /** acc + d * (the block's quants at {@code at} . x[xAt ..]): the products are summed unscaled, then scaled once. */
    private static FloatVector blockDot(MemorySegment quants, long at, float d, float[] x, int xAt, FloatVector acc) {
        FloatVector sum = quants(quants, at, 0).mul(FloatVector.fromArray(FLOAT, x, xAt));
        for (int chunk = 1; chunk < CHUNKS; chunk++) {
            sum = quants(quants, at, chunk).fma(FloatVector.fromArray(FLOAT, x, xAt + chunk * LANES), sum);
        }
        return sum.fma(FloatVector.broadcast(FLOAT, d), acc);
    }

    private static void dequantizeBlock(MemorySegment quants, long at, float d, float[] out, int outAt) {
        FloatVector scale = FloatVector.broadcast(FLOAT, d);
        for (int chunk = 0; chunk < CHUNKS; chunk++) {
            quants(quants, at, chunk).mul(scale).intoArray(out, outAt + chunk * LANES);
        }
    }

    /**
     * nibble - 8 for values [chunk * LANES, (chunk + 1) * LANES) of the block whose 16 quant bytes start at
     * {@code at}, as floats. The bytes are widened to ints; the low chunks read the low nibbles, the high chunks
     * the same bytes shifted right by 4 (the JIT folds the repeated loads, as it does the second half of a byte
     * vector with 4 float lanes).
     */
    private static FloatVector quants(MemorySegment quants, long at, int chunk) {
        int byteChunk = chunk % LOW_CHUNKS;
        IntVector packed = (IntVector) ByteVector.fromMemorySegment(BYTE, quants, at + (long) (byteChunk / BYTE_PARTS) * BYTE.length(), LE)
                .convertShape(VectorOperators.B2I, INT, byteChunk % BYTE_PARTS);
        return Vectors.biasedNibbles(chunk < LOW_CHUNKS ? packed : packed.lanewise(VectorOperators.LSHR, 4));
    }

    private float scale(long blockStart) {
        return Float.float16ToFloat(data.get(LE_SHORT, blockStart));
    }
}
