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
 * {@link #dequantizeRow} reads that layout as it is; the products read a {@link PackedBlocks} copy made on first use.
 */
public final class Q8_0Tensor extends FloatTensor {
    static final int BLOCK_SIZE = 32;
    private static final int SCALE_BYTES = 2;
    static final int BLOCK_BYTES = 34;
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
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long rowStart = rowStart(row, out, outOffset);
        for (int b = 0; b < cols / BLOCK_SIZE; b++) {
            long blockStart = rowStart + (long) b * BLOCK_BYTES;
            FloatVector scale = FloatVector.broadcast(FLOAT, Float.float16ToFloat(data.get(LE_SHORT, blockStart)));
            for (int chunk = 0; chunk < CHUNKS; chunk++) {
                ByteVector bytes = ByteVector.fromMemorySegment(BYTE, data,
                        blockStart + SCALE_BYTES + (long) (chunk / BYTE_PARTS) * BYTE.length(), LE);
                ((FloatVector) bytes.convertShape(VectorOperators.B2F, FLOAT, chunk % BYTE_PARTS)).mul(scale)
                        .intoArray(out, outOffset + b * BLOCK_SIZE + chunk * LANES);
            }
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
        byte[] quants = p.quants();
        float[] scales = p.scales();
        int first = p.firstBlock(row);
        FloatVector sum = FloatVector.zero(FLOAT);
        for (int b = 0; b < cols / BLOCK_SIZE; b++) {
            sum = blockDot(quants, (first + b) * BLOCK_SIZE, scales[first + b], x, xOffset + b * BLOCK_SIZE, sum);
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
            sum0 = blockDot(quants, (first0 + b) * BLOCK_SIZE, scales[first0 + b], x, xAt, sum0);
            sum1 = blockDot(quants, (first1 + b) * BLOCK_SIZE, scales[first1 + b], x, xAt, sum1);
            sum2 = blockDot(quants, (first2 + b) * BLOCK_SIZE, scales[first2 + b], x, xAt, sum2);
            sum3 = blockDot(quants, (first3 + b) * BLOCK_SIZE, scales[first3 + b], x, xAt, sum3);
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
            dequantizeBlock(p.quants(), (first + b) * BLOCK_SIZE, p.scales()[first + b], out, outOffset + b * BLOCK_SIZE);
        }
    }

    /**
     * sum + the block's values (quants at {@code at} times d) times x[xAt ..], vector after vector: the order of
     * {@link FloatGemm#dot} over the values {@link #dequantizeBlock} gives.
     */
    private static FloatVector blockDot(byte[] quants, int at, float d, float[] x, int xAt, FloatVector sum) {
        FloatVector scale = FloatVector.broadcast(FLOAT, d);
        for (int chunk = 0; chunk < CHUNKS; chunk++) {
            sum = quants(quants, at, chunk).mul(scale).fma(FloatVector.fromArray(FLOAT, x, xAt + chunk * LANES), sum);
        }
        return sum;
    }

    private static void dequantizeBlock(byte[] quants, int at, float d, float[] out, int outAt) {
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
    private static FloatVector quants(byte[] quants, int at, int chunk) {
        ByteVector bytes = ByteVector.fromArray(BYTE, quants, at + (chunk / BYTE_PARTS) * BYTE.length());
        return (FloatVector) bytes.convertShape(VectorOperators.B2F, FLOAT, chunk % BYTE_PARTS);
    }

}
