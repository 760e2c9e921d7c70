package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.FLOAT;
import static dev.winnow.tensors.Vectors.LANES;

import java.util.Arrays;

import jdk.incubator.vector.FloatVector;

/**
 * The register-tiled inner kernel of {@link FloatTensor#matMul}: a few weight rows, already dequantized into a
 * float buffer, against a block of token vectors. A 4 x 4 tile keeps its 16 running sums in vector registers, so
 * each weight vector loaded serves 4 tokens and each token vector 4 rows. The columns are taken
 * {@link #DEPTH} at a time, for every token in turn, so that the slice of the 4 weight rows being used and the
 * slice of the 4 token vectors (2 x 8 KiB) stay in the first-level cache; over whole rows they would not, and
 * the loop would wait on the second-level cache rather than on its multiply-adds (measured with
 * {@code PrefillBenchmark}: 55-63 against 80-100 GFLOP/s on 2 threads, docs/performance.md). The running sums are parked in a small buffer between slices, which changes
 * nothing in their order.
 */
final class FloatGemm {
    /** Weight rows per tile. */
    static final int ROWS = 4;
    /** Token vectors per tile. */
    static final int TOKENS = 4;
    /** Columns per slice. */
    static final int DEPTH = 512;

    private FloatGemm() {
    }

    /** Floats of scratch that {@link #multiply} needs for a block of {@code batch} tokens. */
    static int sumsLength(int batch) {
        return (batch / TOKENS) * ROWS * TOKENS * LANES;
    }

    /**
     * For the {@code rowCount} rows in {@code w} (row i at {@code i * cols}, at most {@link #ROWS}) and every one of
     * the {@code batch} tokens of {@code x} (token t at {@code t * cols}): out[t * outRows + firstRow + i] =
     * {@link #dot}(w row i, x token t). {@code sums} holds {@link #sumsLength}(batch) floats of scratch from
     * {@code sumsAt}.
     */
    static void multiply(float[] w, int rowCount, float[] x, int batch, int cols, float[] out, int outRows, int firstRow,
                         float[] sums, int sumsAt) {
        int fullTokens = rowCount == ROWS ? batch - batch % TOKENS : 0;
        if (fullTokens > 0) {
            int vectorCols = cols - cols % LANES;
            int tileSums = ROWS * TOKENS * LANES;
            Arrays.fill(sums, sumsAt, sumsAt + fullTokens / TOKENS * tileSums, 0f);
            for (int from = 0; from < vectorCols; from += DEPTH) {
                int to = Math.min(vectorCols, from + DEPTH);
                for (int t = 0; t < fullTokens; t += TOKENS) {
                    slice(w, cols, x, t * cols, from, to, sums, sumsAt + t / TOKENS * tileSums);
                }
            }
            for (int t = 0; t < fullTokens; t += TOKENS) {
                for (int j = 0; j < TOKENS; j++) {
                    for (int i = 0; i < ROWS; i++) {
                        FloatVector sum = FloatVector.fromArray(FLOAT, sums, sumsAt + t / TOKENS * tileSums + (i * TOKENS + j) * LANES);
                        out[(t + j) * outRows + firstRow + i] = finish(sum, w, i * cols, x, (t + j) * cols, vectorCols, cols);
                    }
                }
            }
        }
        // The tokens left over, or every token of a tile with fewer rows: one dot product each, in the same order.
        for (int t = fullTokens; t < batch; t++) {
            for (int i = 0; i < rowCount; i++) {
                out[t * outRows + firstRow + i] = dot(w, i * cols, x, t * cols, cols);
            }
        }
    }

    /**
     * Columns [from, to) of the 4 x 4 tile of the 4 rows of {@code w} and the 4 tokens from {@code x0}: adds their
     * products to the 16 running sums parked in {@code sums} from {@code at} (sum (i, j) of row i and token j at
     * {@code at + (i * TOKENS + j) * LANES}).
     */
    private static void slice(float[] w, int cols, float[] x, int x0, int from, int to, float[] sums, int at) {
        int w1 = cols;
        int w2 = 2 * cols;
        int w3 = 3 * cols;
        int x1 = x0 + cols;
        int x2 = x1 + cols;
        int x3 = x2 + cols;
        FloatVector a00 = FloatVector.fromArray(FLOAT, sums, at);
        FloatVector a01 = FloatVector.fromArray(FLOAT, sums, at + LANES);
        FloatVector a02 = FloatVector.fromArray(FLOAT, sums, at + 2 * LANES);
        FloatVector a03 = FloatVector.fromArray(FLOAT, sums, at + 3 * LANES);
        FloatVector a10 = FloatVector.fromArray(FLOAT, sums, at + 4 * LANES);
        FloatVector a11 = FloatVector.fromArray(FLOAT, sums, at + 5 * LANES);
        FloatVector a12 = FloatVector.fromArray(FLOAT, sums, at + 6 * LANES);
        FloatVector a13 = FloatVector.fromArray(FLOAT, sums, at + 7 * LANES);
        FloatVector a20 = FloatVector.fromArray(FLOAT, sums, at + 8 * LANES);
        FloatVector a21 = FloatVector.fromArray(FLOAT, sums, at + 9 * LANES);
        FloatVector a22 = FloatVector.fromArray(FLOAT, sums, at + 10 * LANES);
        FloatVector a23 = FloatVector.fromArray(FLOAT, sums, at + 11 * LANES);
        FloatVector a30 = FloatVector.fromArray(FLOAT, sums, at + 12 * LANES);
        FloatVector a31 = FloatVector.fromArray(FLOAT, sums, at + 13 * LANES);
        FloatVector a32 = FloatVector.fromArray(FLOAT, sums, at + 14 * LANES);
        FloatVector a33 = FloatVector.fromArray(FLOAT, sums, at + 15 * LANES);
        for (int k = from; k < to; k += LANES) {
            FloatVector r0 = FloatVector.fromArray(FLOAT, w, k);
            FloatVector r1 = FloatVector.fromArray(FLOAT, w, w1 + k);
            FloatVector r2 = FloatVector.fromArray(FLOAT, w, w2 + k);
            FloatVector r3 = FloatVector.fromArray(FLOAT, w, w3 + k);
            FloatVector t = FloatVector.fromArray(FLOAT, x, x0 + k);
            a00 = r0.fma(t, a00);
            a10 = r1.fma(t, a10);
            a20 = r2.fma(t, a20);
            a30 = r3.fma(t, a30);
            t = FloatVector.fromArray(FLOAT, x, x1 + k);
            a01 = r0.fma(t, a01);
            a11 = r1.fma(t, a11);
            a21 = r2.fma(t, a21);
            a31 = r3.fma(t, a31);
            t = FloatVector.fromArray(FLOAT, x, x2 + k);
            a02 = r0.fma(t, a02);
            a12 = r1.fma(t, a12);
            a22 = r2.fma(t, a22);
            a32 = r3.fma(t, a32);
            t = FloatVector.fromArray(FLOAT, x, x3 + k);
            a03 = r0.fma(t, a03);
            a13 = r1.fma(t, a13);
            a23 = r2.fma(t, a23);
            a33 = r3.fma(t, a33);
        }
        a00.intoArray(sums, at);
        a01.intoArray(sums, at + LANES);
        a02.intoArray(sums, at + 2 * LANES);
        a03.intoArray(sums, at + 3 * LANES);
        a10.intoArray(sums, at + 4 * LANES);
        a11.intoArray(sums, at + 5 * LANES);
        a12.intoArray(sums, at + 6 * LANES);
        a13.intoArray(sums, at + 7 * LANES);
        a20.intoArray(sums, at + 8 * LANES);
        a21.intoArray(sums, at + 9 * LANES);
        a22.intoArray(sums, at + 10 * LANES);
        a23.intoArray(sums, at + 11 * LANES);
        a30.intoArray(sums, at + 12 * LANES);
        a31.intoArray(sums, at + 13 * LANES);
        a32.intoArray(sums, at + 14 * LANES);
        a33.intoArray(sums, at + 15 * LANES);
    }

    /**
     * dot(w[wAt .. wAt + n), x[xAt .. xAt + n)) in the order every matrix product of {@link FloatTensor} forms a
     * row's sum: one running vector of products added vector after vector, its lanes added in a fixed order, then
     * the products of the values that fill no vector, one by one. Sharing one order is what makes a product's
     * outputs independent of the threads, the tiles and the other vectors in a batch.
     */
    static float dot(float[] w, int wAt, float[] x, int xAt, int n) {
        FloatVector sum = FloatVector.zero(FLOAT);
        int k = 0;
        for (int end = n - LANES; k <= end; k += LANES) {
            sum = FloatVector.fromArray(FLOAT, w, wAt + k).fma(FloatVector.fromArray(FLOAT, x, xAt + k), sum);
        }
        return finish(sum, w, wAt, x, xAt, k, n);
    }

    /** The lanes of a running sum added up, plus the products of the columns from {@code k} that fill no vector. */
    private static float finish(FloatVector sum, float[] w, int wAt, float[] x, int xAt, int k, int cols) {
        float total = Vectors.sum(sum);
        for (int i = k; i < cols; i++) {
            total += w[wAt + i] * x[xAt + i];
        }
        return total;
    }
}
