package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.BYTE;
import static dev.winnow.tensors.Vectors.BYTE_PARTS;
import static dev.winnow.tensors.Vectors.FLOAT;
import static dev.winnow.tensors.Vectors.LANES;
import static dev.winnow.tensors.Vectors.LE;
import static dev.winnow.tensors.Vectors.LE_SHORT;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * ggml's Q8_0: blocks of 32 values, each an fp16 scale d followed by 32 signed bytes q; value = d * q.
 * {@link #dotRow} and {@link #dequantizeRow} read that layout; matrix products read a {@link PackedBlocks} copy.
 */
public final class Q8_0Tensor extends FloatTensor {
    static final int BLOCK_SIZE = 32;
    static final int BLOCK_BYTES = 34;
    private static final int QUANTS_OFFSET = 2;
    /** Float vectors per block. */
    private static final int CHUNKS = BLOCK_SIZE / LANES;

    private volatile PackedBlocks packed;

    public Q8_0Tensor(MemorySegment data, int rows, int cols) {
        super(GgmlType.Q8_0, data, rows, cols);
    }

    @Override
    public GgmlType type() {
        return GgmlType.Q8_0;
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
                    packed = PackedBlocks.pack(data, rows, cols / BLOCK_SIZE, BLOCK_BYTES, BLOCK_SIZE, pool);
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
            long at = (long) (first + b) * BLOCK_SIZE;
            even = blockDot(quants, at, scales[first + b], x, xOffset + b * BLOCK_SIZE, even);
            odd = blockDot(quants, at + BLOCK_SIZE, scales[first + b + 1], x, xOffset + (b + 1) * BLOCK_SIZE, odd);
        }
        if (b < blocks) {
            even = blockDot(quants, (long) (first + b) * BLOCK_SIZE, scales[first + b], x, xOffset + b * BLOCK_SIZE, even);
        }
        return Vectors.sum(even.add(odd));
    }

    @Override
    void productRow(int row, float[] out, int outOffset) {
        PackedBlocks p = packed;
        int first = p.firstBlock(row);
        for (int b = 0; b < cols / BLOCK_SIZE; b++) {
            dequantizeBlock(p.quants(), (long) (first + b) * BLOCK_SIZE, p.scales()[first + b], out, outOffset + b * BLOCK_SIZE);
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
     * The quants of values [chunk * LANES, (chunk + 1) * LANES) of the block whose quants start at {@code at},
     * as floats. With 4 float lanes a byte vector holds two chunks; the repeated load of its second half is
     * folded by the JIT.
     */
    private static FloatVector quants(MemorySegment quants, long at, int chunk) {
        ByteVector bytes = ByteVector.fromMemorySegment(BYTE, quants, at + (long) (chunk / BYTE_PARTS) * BYTE.length(), LE);
        return (FloatVector) bytes.convertShape(VectorOperators.B2F, FLOAT, chunk % BYTE_PARTS);
    }

    private float scale(long blockStart) {
        return Float.float16ToFloat(data.get(LE_SHORT, blockStart));
    }
}
