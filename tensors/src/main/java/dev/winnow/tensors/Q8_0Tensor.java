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
        decode(data, rowStart(row, out, outOffset), out, outOffset, cols);
    }

    /** Converts the {@code n} values stored at {@code data[start ..]} into out[outOffset ..] (bounds checked by the caller). */
    static void decode(MemorySegment data, long start, float[] out, int outOffset, int n) {
        for (int b = 0; b < n / BLOCK_SIZE; b++) {
            long blockStart = start + (long) b * BLOCK_BYTES;
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

    /** The row-group kernel, kept off this class's public methods: it trusts its arguments. */
    private final RowGroupKernel rowGroups = new RowGroupKernel() {
        @Override
        public void productRows(int row, float[] x, int xOffset, int batch, float[] sums) {
            Q8_0Tensor.this.productRows(row, x, xOffset, batch, sums);
        }

        @Override
        public void productRowsOfFour(int row, float[] x, int xOffset, int batch, float[] sums) {
            Q8_0Tensor.this.productRowsOfFour(row, x, xOffset, batch, sums);
        }
    };

    @Override
    RowGroupKernel rowGroupKernel() {
        return rowGroups;
    }

    /**
     * Three rows times up to 8 vectors with 24 running sums in registers: each weight vector is decoded once and
     * multiplied with every vector. A block of fewer than 8 repeats its last vector in the unused sums (their
     * results are dropped), so that one loop serves every block size.
     */
    private void productRows(int row, float[] x, int xOffset, int batch, float[] sums) {
        PackedBlocks p = packed;
        byte[] quants = p.quants();
        float[] scales = p.scales();
        int first0 = p.firstBlock(row);
        int first1 = p.firstBlock(row + 1);
        int first2 = p.firstBlock(row + 2);
        int q0 = first0 * BLOCK_SIZE;
        int q1 = first1 * BLOCK_SIZE;
        int q2 = first2 * BLOCK_SIZE;
        int last = batch - 1;
        int x1 = xOffset + Math.min(1, last) * cols;
        int x2 = xOffset + Math.min(2, last) * cols;
        int x3 = xOffset + Math.min(3, last) * cols;
        int x4 = xOffset + Math.min(4, last) * cols;
        int x5 = xOffset + Math.min(5, last) * cols;
        int x6 = xOffset + Math.min(6, last) * cols;
        int x7 = xOffset + Math.min(7, last) * cols;
        FloatVector a0 = FloatVector.zero(FLOAT);
        FloatVector a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0;
        FloatVector c0 = a0, c1 = a0, c2 = a0, c3 = a0, c4 = a0, c5 = a0, c6 = a0, c7 = a0;
        for (int k = 0; k < cols; k += LANES) {
            FloatVector w0 = quants(quants, q0 + k).mul(scales[first0 + k / BLOCK_SIZE]);
            FloatVector w1 = quants(quants, q1 + k).mul(scales[first1 + k / BLOCK_SIZE]);
            FloatVector w2 = quants(quants, q2 + k).mul(scales[first2 + k / BLOCK_SIZE]);
            FloatVector t = FloatVector.fromArray(FLOAT, x, xOffset + k);
            a0 = w0.fma(t, a0);
            b0 = w1.fma(t, b0);
            c0 = w2.fma(t, c0);
            t = FloatVector.fromArray(FLOAT, x, x1 + k);
            a1 = w0.fma(t, a1);
            b1 = w1.fma(t, b1);
            c1 = w2.fma(t, c1);
            t = FloatVector.fromArray(FLOAT, x, x2 + k);
            a2 = w0.fma(t, a2);
            b2 = w1.fma(t, b2);
            c2 = w2.fma(t, c2);
            t = FloatVector.fromArray(FLOAT, x, x3 + k);
            a3 = w0.fma(t, a3);
            b3 = w1.fma(t, b3);
            c3 = w2.fma(t, c3);
            t = FloatVector.fromArray(FLOAT, x, x4 + k);
            a4 = w0.fma(t, a4);
            b4 = w1.fma(t, b4);
            c4 = w2.fma(t, c4);
            t = FloatVector.fromArray(FLOAT, x, x5 + k);
            a5 = w0.fma(t, a5);
            b5 = w1.fma(t, b5);
            c5 = w2.fma(t, c5);
            t = FloatVector.fromArray(FLOAT, x, x6 + k);
            a6 = w0.fma(t, a6);
            b6 = w1.fma(t, b6);
            c6 = w2.fma(t, c6);
            t = FloatVector.fromArray(FLOAT, x, x7 + k);
            a7 = w0.fma(t, a7);
            b7 = w1.fma(t, b7);
            c7 = w2.fma(t, c7);
        }
        a0.intoArray(sums, 0);
        a1.intoArray(sums, LANES);
        a2.intoArray(sums, 2 * LANES);
        a3.intoArray(sums, 3 * LANES);
        a4.intoArray(sums, 4 * LANES);
        a5.intoArray(sums, 5 * LANES);
        a6.intoArray(sums, 6 * LANES);
        a7.intoArray(sums, 7 * LANES);
        b0.intoArray(sums, 8 * LANES);
        b1.intoArray(sums, 9 * LANES);
        b2.intoArray(sums, 10 * LANES);
        b3.intoArray(sums, 11 * LANES);
        b4.intoArray(sums, 12 * LANES);
        b5.intoArray(sums, 13 * LANES);
        b6.intoArray(sums, 14 * LANES);
        b7.intoArray(sums, 15 * LANES);
        c0.intoArray(sums, 16 * LANES);
        c1.intoArray(sums, 17 * LANES);
        c2.intoArray(sums, 18 * LANES);
        c3.intoArray(sums, 19 * LANES);
        c4.intoArray(sums, 20 * LANES);
        c5.intoArray(sums, 21 * LANES);
        c6.intoArray(sums, 22 * LANES);
        c7.intoArray(sums, 23 * LANES);
    }

    /** Three rows times up to 4 vectors with 12 running sums (a block of fewer than 4 repeats its last vector). */
    private void productRowsOfFour(int row, float[] x, int xOffset, int batch, float[] sums) {
        PackedBlocks p = packed;
        byte[] quants = p.quants();
        float[] scales = p.scales();
        int first0 = p.firstBlock(row);
        int first1 = p.firstBlock(row + 1);
        int first2 = p.firstBlock(row + 2);
        int q0 = first0 * BLOCK_SIZE;
        int q1 = first1 * BLOCK_SIZE;
        int q2 = first2 * BLOCK_SIZE;
        int last = batch - 1;
        int x1 = xOffset + Math.min(1, last) * cols;
        int x2 = xOffset + Math.min(2, last) * cols;
        int x3 = xOffset + Math.min(3, last) * cols;
        FloatVector a0 = FloatVector.zero(FLOAT);
        FloatVector a1 = a0, a2 = a0, a3 = a0;
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        FloatVector c0 = a0, c1 = a0, c2 = a0, c3 = a0;
        for (int k = 0; k < cols; k += LANES) {
            FloatVector w0 = quants(quants, q0 + k).mul(scales[first0 + k / BLOCK_SIZE]);
            FloatVector w1 = quants(quants, q1 + k).mul(scales[first1 + k / BLOCK_SIZE]);
            FloatVector w2 = quants(quants, q2 + k).mul(scales[first2 + k / BLOCK_SIZE]);
            FloatVector t = FloatVector.fromArray(FLOAT, x, xOffset + k);
            a0 = w0.fma(t, a0);
            b0 = w1.fma(t, b0);
            c0 = w2.fma(t, c0);
            t = FloatVector.fromArray(FLOAT, x, x1 + k);
            a1 = w0.fma(t, a1);
            b1 = w1.fma(t, b1);
            c1 = w2.fma(t, c1);
            t = FloatVector.fromArray(FLOAT, x, x2 + k);
            a2 = w0.fma(t, a2);
            b2 = w1.fma(t, b2);
            c2 = w2.fma(t, c2);
            t = FloatVector.fromArray(FLOAT, x, x3 + k);
            a3 = w0.fma(t, a3);
            b3 = w1.fma(t, b3);
            c3 = w2.fma(t, c3);
        }
        a0.intoArray(sums, 0);
        a1.intoArray(sums, LANES);
        a2.intoArray(sums, 2 * LANES);
        a3.intoArray(sums, 3 * LANES);
        b0.intoArray(sums, 8 * LANES);
        b1.intoArray(sums, 9 * LANES);
        b2.intoArray(sums, 10 * LANES);
        b3.intoArray(sums, 11 * LANES);
        c0.intoArray(sums, 16 * LANES);
        c1.intoArray(sums, 17 * LANES);
        c2.intoArray(sums, 18 * LANES);
        c3.intoArray(sums, 19 * LANES);
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
            sum = quants(quants, at + chunk * LANES).mul(scale).fma(FloatVector.fromArray(FLOAT, x, xAt + chunk * LANES), sum);
        }
        return sum;
    }

    private static void dequantizeBlock(byte[] quants, int at, float d, float[] out, int outAt) {
        FloatVector scale = FloatVector.broadcast(FLOAT, d);
        for (int chunk = 0; chunk < CHUNKS; chunk++) {
            quants(quants, at + chunk * LANES).mul(scale).intoArray(out, outAt + chunk * LANES);
        }
    }

    /**
     * The quants at [at, at + LANES) as floats, {@code at} a multiple of LANES. With 4 float lanes a byte vector
     * holds two chunks, loaded from the even one; the JIT folds the repeated load.
     */
    private static FloatVector quants(byte[] quants, int at) {
        int part = (at / LANES) % BYTE_PARTS;
        ByteVector bytes = ByteVector.fromArray(BYTE, quants, at - part * LANES);
        return (FloatVector) bytes.convertShape(VectorOperators.B2F, FLOAT, part);
    }

}
