package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.FLOAT;
import static dev.winnow.tensors.Vectors.LANES;

import jdk.incubator.vector.FloatVector;

/**
 * The register-tiled inner kernel of {@link FloatTensor#matMul}: a few weight rows, already dequantized into a
 * float buffer, against a few token vectors at once. A 4 x 4 tile keeps its 16 running sums in vector
 * registers, so each weight vector loaded serves 4 tokens and each token vector 4 rows: the loop is bound by
 * multiply-adds, not by memory.
 */
final class FloatGemm {
    /** Weight rows per tile. */
    static final int ROWS = 4;
    /** Token vectors per tile. */
    static final int TOKENS = 4;

    private FloatGemm() {
    }

    /**
     * For the {@code rowCount} rows in {@code w} (row i at {@code i * cols}) and tokens
     * {@code firstToken .. firstToken + tokenCount} of {@code x} (token t at {@code t * cols}):
     * out[t * outRows + firstRow + i] = dot(w row i, x token t). rowCount and tokenCount are at most 4.
     */
    static void tile(float[] w, int rowCount, float[] x, int firstToken, int tokenCount, int cols,
                     float[] out, int outRows, int firstRow) {
        if (rowCount == ROWS && tokenCount == TOKENS) {
            fullTile(w, x, firstToken, cols, out, outRows, firstRow);
            return;
        }
        for (int t = firstToken; t < firstToken + tokenCount; t++) {
            for (int i = 0; i < rowCount; i++) {
                out[t * outRows + firstRow + i] = dot(w, i * cols, x, t * cols, cols);
            }
        }
    }

    private static void fullTile(float[] w, float[] x, int firstToken, int cols, float[] out, int outRows, int firstRow) {
        int w0 = 0;
        int w1 = cols;
        int w2 = 2 * cols;
        int w3 = 3 * cols;
        int x0 = firstToken * cols;
        int x1 = x0 + cols;
        int x2 = x1 + cols;
        int x3 = x2 + cols;
        FloatVector a00 = FloatVector.zero(FLOAT), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        int k = 0;
        for (int end = cols - LANES; k <= end; k += LANES) {
            FloatVector r0 = FloatVector.fromArray(FLOAT, w, w0 + k);
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
        int o0 = firstToken * outRows + firstRow;
        int o1 = o0 + outRows;
        int o2 = o1 + outRows;
        int o3 = o2 + outRows;
        out[o0] = finish(a00, w, w0, x, x0, k, cols);
        out[o0 + 1] = finish(a10, w, w1, x, x0, k, cols);
        out[o0 + 2] = finish(a20, w, w2, x, x0, k, cols);
        out[o0 + 3] = finish(a30, w, w3, x, x0, k, cols);
        out[o1] = finish(a01, w, w0, x, x1, k, cols);
        out[o1 + 1] = finish(a11, w, w1, x, x1, k, cols);
        out[o1 + 2] = finish(a21, w, w2, x, x1, k, cols);
        out[o1 + 3] = finish(a31, w, w3, x, x1, k, cols);
        out[o2] = finish(a02, w, w0, x, x2, k, cols);
        out[o2 + 1] = finish(a12, w, w1, x, x2, k, cols);
        out[o2 + 2] = finish(a22, w, w2, x, x2, k, cols);
        out[o2 + 3] = finish(a32, w, w3, x, x2, k, cols);
        out[o3] = finish(a03, w, w0, x, x3, k, cols);
        out[o3 + 1] = finish(a13, w, w1, x, x3, k, cols);
        out[o3 + 2] = finish(a23, w, w2, x, x3, k, cols);
        out[o3 + 3] = finish(a33, w, w3, x, x3, k, cols);
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
