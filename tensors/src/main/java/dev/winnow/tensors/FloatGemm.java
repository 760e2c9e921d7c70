package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.FLOAT;
import static dev.winnow.tensors.Vectors.LANES;

import java.util.Arrays;

import jdk.incubator.vector.FloatVector;

/**
 * The register-blocked micro-kernel of {@link FloatTensor#matMul}: a tile of {@link #ROWS} weight rows, already
 * dequantized, against a block of token vectors, {@link #TOKENS} at a time. The 24 running sums of a 6 x 4 tile
 * stay in vector registers (with the 4 token vectors and one weight vector, 29 of AVX-512's 32), so each weight
 * vector loaded serves 4 tokens and each token vector 6 rows. With AVX2's 16 registers some sums spill to the
 * stack: the same numbers, more slowly (not measured here; the development machine has AVX-512).
 *
 * <p>The tile's rows are first packed into a panel, the 6 rows' vectors for the same columns next to each other, so
 * that the kernel reads its weights as one sequential stream instead of 6 streams a row apart (rows 8 KiB apart or
 * more fall into the same sets of the first-level cache). The columns are taken {@link #DEPTH} at a time, for every
 * token in turn, so that the panel's slice (12 KiB) stays in the first-level cache while the tokens' slices stream
 * past it; the running sums are parked in a small buffer between slices, which changes nothing in their order.
 * Each sum is {@link #dot}'s, to the bit: the same vector products added in the same column order, its lanes added
 * by {@link Vectors#sum}, then the tail. Measurements in docs/performance.md.
 */
final class FloatGemm {
    /** Weight rows per tile. */
    static final int ROWS = 6;
    /** Token vectors per tile. */
    static final int TOKENS = 4;
    /** Columns per slice. */
    static final int DEPTH = 512;

    private FloatGemm() {
    }

    /** Floats of scratch that {@link #multiply} needs for a block of {@code batch} tokens: the panel, then the parked sums. */
    static int scratchLength(int batch, int cols) {
        return ROWS * cols + (batch / TOKENS) * ROWS * TOKENS * LANES;
    }

    /**
     * For the {@link #ROWS} rows in {@code w} (row i at {@code wAt + i * cols}) and every one of the {@code batch} tokens of
     * {@code x} (token t at {@code xAt + t * cols}): out[t * outRows + firstRow + i] = {@link #dot}(w row i, x token t),
     * for the first {@code rowCount} rows only (a last tile short of rows computes the others too, from whatever
     * the buffer holds there, and drops them). {@code scratch} holds {@link #scratchLength} floats from
     * {@code scratchAt}.
     */
    static void multiply(float[] w, int wAt, int rowCount, float[] x, int xAt, int batch, int cols, float[] out, int outRows, int firstRow,
                         float[] scratch, int scratchAt) {
        int fullTokens = batch - batch % TOKENS;
        if (fullTokens > 0) {
            int vectorCols = cols - cols % LANES;
            int panelAt = scratchAt;
            for (int k = 0; k < vectorCols; k += LANES) {
                for (int i = 0; i < ROWS; i++) {
                    FloatVector.fromArray(FLOAT, w, wAt + i * cols + k).intoArray(scratch, panelAt + k * ROWS + i * LANES);
                }
            }
            int sumsAt = panelAt + ROWS * vectorCols;
            int tileSums = ROWS * TOKENS * LANES;
            Arrays.fill(scratch, sumsAt, sumsAt + fullTokens / TOKENS * tileSums, 0f);
            for (int from = 0; from < vectorCols; from += DEPTH) {
                int to = Math.min(vectorCols, from + DEPTH);
                for (int t = 0; t < fullTokens; t += TOKENS) {
                    slice(scratch, panelAt, x, xAt + t * cols, cols, from, to, scratch, sumsAt + t / TOKENS * tileSums);
                }
            }
            for (int t = 0; t < fullTokens; t += TOKENS) {
                for (int j = 0; j < TOKENS; j++) {
                    for (int i = 0; i < rowCount; i++) {
                        FloatVector sum = FloatVector.fromArray(FLOAT, scratch, sumsAt + t / TOKENS * tileSums + (i * TOKENS + j) * LANES);
                        out[(t + j) * outRows + firstRow + i] = finish(sum, w, wAt + i * cols, x, xAt + (t + j) * cols, vectorCols, cols);
                    }
                }
            }
        }
        // The tokens left over: one dot product each, in the same order.
        for (int t = fullTokens; t < batch; t++) {
            for (int i = 0; i < rowCount; i++) {
                out[t * outRows + firstRow + i] = dot(w, wAt + i * cols, x, xAt + t * cols, cols);
            }
        }
    }

    /**
     * Columns [from, to) of the tile of the panel's rows (from {@code panelAt}: for every {@link Vectors#LANES}
     * columns, the {@link #ROWS} rows' vectors one after the other) and the {@link #TOKENS} tokens from {@code x0},
     * {@code cols} apart: adds their products to the running sums parked in {@code sums} from {@code at} (sum (i, j)
     * of row i and token j at {@code at + (i * TOKENS + j) * LANES}).
     */
    private static void slice(float[] panel, int panelAt, float[] x, int x0, int cols, int from, int to, float[] sums, int at) {
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
        FloatVector a40 = FloatVector.fromArray(FLOAT, sums, at + 16 * LANES);
        FloatVector a41 = FloatVector.fromArray(FLOAT, sums, at + 17 * LANES);
        FloatVector a42 = FloatVector.fromArray(FLOAT, sums, at + 18 * LANES);
        FloatVector a43 = FloatVector.fromArray(FLOAT, sums, at + 19 * LANES);
        FloatVector a50 = FloatVector.fromArray(FLOAT, sums, at + 20 * LANES);
        FloatVector a51 = FloatVector.fromArray(FLOAT, sums, at + 21 * LANES);
        FloatVector a52 = FloatVector.fromArray(FLOAT, sums, at + 22 * LANES);
        FloatVector a53 = FloatVector.fromArray(FLOAT, sums, at + 23 * LANES);
        for (int k = from, p = panelAt + from * ROWS; k < to; k += LANES, p += ROWS * LANES) {
            FloatVector t0 = FloatVector.fromArray(FLOAT, x, x0 + k);
            FloatVector t1 = FloatVector.fromArray(FLOAT, x, x1 + k);
            FloatVector t2 = FloatVector.fromArray(FLOAT, x, x2 + k);
            FloatVector t3 = FloatVector.fromArray(FLOAT, x, x3 + k);
            FloatVector r = FloatVector.fromArray(FLOAT, panel, p);
            a00 = r.fma(t0, a00);
            a01 = r.fma(t1, a01);
            a02 = r.fma(t2, a02);
            a03 = r.fma(t3, a03);
            r = FloatVector.fromArray(FLOAT, panel, p + LANES);
            a10 = r.fma(t0, a10);
            a11 = r.fma(t1, a11);
            a12 = r.fma(t2, a12);
            a13 = r.fma(t3, a13);
            r = FloatVector.fromArray(FLOAT, panel, p + 2 * LANES);
            a20 = r.fma(t0, a20);
            a21 = r.fma(t1, a21);
            a22 = r.fma(t2, a22);
            a23 = r.fma(t3, a23);
            r = FloatVector.fromArray(FLOAT, panel, p + 3 * LANES);
            a30 = r.fma(t0, a30);
            a31 = r.fma(t1, a31);
            a32 = r.fma(t2, a32);
            a33 = r.fma(t3, a33);
            r = FloatVector.fromArray(FLOAT, panel, p + 4 * LANES);
            a40 = r.fma(t0, a40);
            a41 = r.fma(t1, a41);
            a42 = r.fma(t2, a42);
            a43 = r.fma(t3, a43);
            r = FloatVector.fromArray(FLOAT, panel, p + 5 * LANES);
            a50 = r.fma(t0, a50);
            a51 = r.fma(t1, a51);
            a52 = r.fma(t2, a52);
            a53 = r.fma(t3, a53);
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
        a40.intoArray(sums, at + 16 * LANES);
        a41.intoArray(sums, at + 17 * LANES);
        a42.intoArray(sums, at + 18 * LANES);
        a43.intoArray(sums, at + 19 * LANES);
        a50.intoArray(sums, at + 20 * LANES);
        a51.intoArray(sums, at + 21 * LANES);
        a52.intoArray(sums, at + 22 * LANES);
        a53.intoArray(sums, at + 23 * LANES);
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
    static float finish(FloatVector sum, float[] w, int wAt, float[] x, int xAt, int k, int cols) {
        float total = Vectors.sum(sum);
        for (int i = k; i < cols; i++) {
            total += w[wAt + i] * x[xAt + i];
        }
        return total;
    }
}
