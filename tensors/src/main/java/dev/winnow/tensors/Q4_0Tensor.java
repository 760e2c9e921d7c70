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
 * {@link #dequantizeRow} reads that layout as it is; the products read a {@link PackedBlocks} copy made on first use.
 */
public final class Q4_0Tensor extends FloatTensor {
    static final int BLOCK_SIZE = 32;
    private static final int SCALE_BYTES = 2;
    static final int BLOCK_BYTES = 18;
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
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long rowStart = rowStart(row, out, outOffset);
        for (int b = 0; b < cols / BLOCK_SIZE; b++) {
            long blockStart = rowStart + (long) b * BLOCK_BYTES;
            FloatVector scale = FloatVector.broadcast(FLOAT, Float.float16ToFloat(data.get(LE_SHORT, blockStart)));
            for (int chunk = 0; chunk < CHUNKS; chunk++) {
                int byteChunk = chunk % LOW_CHUNKS;
                IntVector bytes = (IntVector) ByteVector.fromMemorySegment(BYTE, data,
                                blockStart + SCALE_BYTES + (long) (byteChunk / BYTE_PARTS) * BYTE.length(), LE)
                        .convertShape(VectorOperators.B2I, INT, byteChunk % BYTE_PARTS);
                Vectors.scaledNibbles(chunk < LOW_CHUNKS ? bytes : bytes.lanewise(VectorOperators.LSHR, 4), scale)
                        .intoArray(out, outOffset + b * BLOCK_SIZE + chunk * LANES);
            }
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
        byte[] quants = p.quants();
        float[] scales = p.scales();
        int first = p.firstBlock(row);
        FloatVector sum = FloatVector.zero(FLOAT);
        for (int b = 0; b < cols / BLOCK_SIZE; b++) {
            sum = blockDot(quants, (first + b) * QUANT_BYTES, scales[first + b], x, xOffset + b * BLOCK_SIZE, sum);
        }
        return Vectors.sum(sum);
    }

    /** Four rows at once, a block of each per step: four memory streams (see {@link FloatTensor#STREAMS}). */
    @Override
    void productDots(int row, int stride, float[] x, int xOffset, float[] out, int outOffset) {
        PackedBlocks p = packed;
        byte[] quants = p.quants();
        float[] scales = p.scales();
        int first0 = p.firstBlock(row);
        int first1 = p.firstBlock(row + stride);
        int first2 = p.firstBlock(row + 2 * stride);
        int first3 = p.firstBlock(row + 3 * stride);
        FloatVector sum0 = FloatVector.zero(FLOAT);
        FloatVector sum1 = sum0;
        FloatVector sum2 = sum0;
        FloatVector sum3 = sum0;
        for (int b = 0; b < cols / BLOCK_SIZE; b++) {
            int xAt = xOffset + b * BLOCK_SIZE;
            sum0 = blockDot(quants, (first0 + b) * QUANT_BYTES, scales[first0 + b], x, xAt, sum0);
            sum1 = blockDot(quants, (first1 + b) * QUANT_BYTES, scales[first1 + b], x, xAt, sum1);
            sum2 = blockDot(quants, (first2 + b) * QUANT_BYTES, scales[first2 + b], x, xAt, sum2);
            sum3 = blockDot(quants, (first3 + b) * QUANT_BYTES, scales[first3 + b], x, xAt, sum3);
        }
        out[outOffset + row] = Vectors.sum(sum0);
        out[outOffset + row + stride] = Vectors.sum(sum1);
        out[outOffset + row + 2 * stride] = Vectors.sum(sum2);
        out[outOffset + row + 3 * stride] = Vectors.sum(sum3);
    }

    @Override
    void productRow(int row, float[] out, int outOffset) {
        PackedBlocks p = packed;
        int first = p.firstBlock(row);
        for (int b = 0; b < cols / BLOCK_SIZE; b++) {
            dequantizeBlock(p.quants(), (first + b) * QUANT_BYTES, p.scales()[first + b], out, outOffset + b * BLOCK_SIZE);
        }
    }

    /**
     * sum + the block's values (nibble - 8 times d) times x[xAt ..], vector after vector: the order of
     * {@link FloatGemm#dot} over the values {@link #dequantizeBlock} gives.
     */
    private static FloatVector blockDot(byte[] quants, int at, float d, float[] x, int xAt, FloatVector sum) {
        FloatVector scale = FloatVector.broadcast(FLOAT, d);
        for (int chunk = 0; chunk < CHUNKS; chunk++) {
            sum = values(quants, at, chunk, scale).fma(FloatVector.fromArray(FLOAT, x, xAt + chunk * LANES), sum);
        }
        return sum;
    }

    private static void dequantizeBlock(byte[] quants, int at, float d, float[] out, int outAt) {
        FloatVector scale = FloatVector.broadcast(FLOAT, d);
        for (int chunk = 0; chunk < CHUNKS; chunk++) {
            values(quants, at, chunk, scale).intoArray(out, outAt + chunk * LANES);
        }
    }

    /**
     * (nibble - 8) * scale for values [chunk * LANES, (chunk + 1) * LANES) of the block whose 16 quant bytes start
     * at {@code at}, as floats. The bytes are widened to ints; the low chunks read the low nibbles, the high chunks
     * the same bytes shifted right by 4. The JIT folds the repeated loads of the same bytes, as it does the second
     * half of a byte vector with 4 float lanes.
     */
    private static FloatVector values(byte[] quants, int at, int chunk, FloatVector scale) {
        int byteChunk = chunk % LOW_CHUNKS;
        IntVector bytes = (IntVector) ByteVector.fromArray(BYTE, quants, at + (byteChunk / BYTE_PARTS) * BYTE.length())
                .convertShape(VectorOperators.B2I, INT, byteChunk % BYTE_PARTS);
        return Vectors.scaledNibbles(chunk < LOW_CHUNKS ? bytes : bytes.lanewise(VectorOperators.LSHR, 4), scale);
    }

}
