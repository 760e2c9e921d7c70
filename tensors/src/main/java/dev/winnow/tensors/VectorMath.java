package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.FLOAT;
import static dev.winnow.tensors.Vectors.LANES;


import java.util.Arrays;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The element-wise and reduction operations of the forward pass, over float arrays with offsets:
 * Vector API bodies with scalar loops for the tails. Ranges are checked up front; a range that does
 * not fit gives an {@link IllegalArgumentException} naming it.
 */
public final class VectorMath {
    /** Doubles in a vector as wide as {@link Vectors#FLOAT}: each float vector widens into two. */
    private static final VectorSpecies<Double> DOUBLE = FLOAT.withLanes(double.class);
    /** Floats in half a {@link Vectors#FLOAT} vector. */
    private static final VectorSpecies<Float> HALF = VectorSpecies.of(float.class, VectorShape.forBitSize(FLOAT.vectorBitSize() / 2));

    private VectorMath() {
    }

    /** Floats in the vectors the kernels use: 4, 8 or 16. */
    public static int lanes() {
        return LANES;
    }

    /**
     * sum of a[aOff + i] * b[bOff + i] for i in [0, n), accumulated in float: two running vectors, interleaved, then
     * their sum's lanes ({@link Vectors#sum}), then the values that fill no vector.
     */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        checkRange("a", a, aOff, n);
        checkRange("b", b, bOff, n);
        FloatVector acc0 = FloatVector.zero(FLOAT);
        FloatVector acc1 = FloatVector.zero(FLOAT);
        int i = 0;
        for (int unrolledEnd = n - 2 * LANES; i <= unrolledEnd; i += 2 * LANES) {
            acc0 = FloatVector.fromArray(FLOAT, a, aOff + i).fma(FloatVector.fromArray(FLOAT, b, bOff + i), acc0);
            acc1 = FloatVector.fromArray(FLOAT, a, aOff + i + LANES)
                    .fma(FloatVector.fromArray(FLOAT, b, bOff + i + LANES), acc1);
        }
        for (int vectorEnd = n - LANES; i <= vectorEnd; i += LANES) {
            acc0 = FloatVector.fromArray(FLOAT, a, aOff + i).fma(FloatVector.fromArray(FLOAT, b, bOff + i), acc0);
        }
        return dotTail(a, aOff, b, bOff, n, Vectors.sum(acc0.add(acc1)));
    }

    /** sum plus the products of the values past the last whole vector, one by one. */
    private static float dotTail(float[] a, int aOff, float[] b, int bOff, int n, float sum) {
        for (int i = n - n % LANES; i < n; i++) {
            sum += a[aOff + i] * b[bOff + i];
        }
        return sum;
    }

    /**
     * LANES vectors of scratch per thread for {@link #swiglu}, {@link #expScaled}, {@link #max} and
     * {@link #maskedColumnDots}.
     */
    private static final ThreadLocal<float[]> LANE_VECTORS = ThreadLocal.withInitial(() -> new float[LANES * LANES]);

    /**
     * out[j] = (sum over d in [0, n) of q[qOff + d] * key j's value d) * scale + mask[j] for j in [0, width), each
     * sum a fused multiply-add per d in ascending order; returns the largest out[j]. One query's attention scores
     * against a tile of keys stored column by column in blocks of {@code blockWidth} keys (key j's value d at
     * {@code (j / blockWidth) * blockWidth * n + d * blockWidth + j % blockWidth}; a block as wide as the tile is
     * the plain column layout), so that LANES keys are scored at once however short a head is; mask[j] is 0 for
     * a key the query sees, -infinity for one it does not. Blocks let a KV page stored column by column be scored
     * where it was converted, with no transposition. Four vectors of keys are scored side by side, so that four
     * chains of multiply-adds hide each other's latency (one chain waits for each add to finish: a head of 8 is 8
     * adds in a row); a block's keys that fill no vector are scored one by one.
     */
    public static float maskedColumnDots(float[] q, int qOff, int n, float[] columns, int width, int blockWidth,
                                         float scale, float[] mask, float[] out) {
        checkRange("q", q, qOff, n);
        checkRange("columns", columns, 0, n * width);
        checkRange("mask", mask, 0, width);
        checkRange("out", out, 0, width);
        if (blockWidth < 1 || width % blockWidth != 0) {
            throw new IllegalArgumentException("blocks of %d keys do not tile a width of %d".formatted(blockWidth, width));
        }
        int blockVectors = blockWidth / LANES;
        int vectors = width / blockWidth * blockVectors;
        int blockStride = blockWidth * n;
        // Each lane's running maximum is kept in memory, as in max(): a vector variable carried through the loops
        // is what C2 sometimes boxed on every iteration.
        float[] maxLanes = LANE_VECTORS.get();
        Arrays.fill(maxLanes, 0, LANES, Float.NEGATIVE_INFINITY);
        int v = 0;
        for (int quadEnd = vectors - 4; v <= quadEnd; v += 4) {
            int key0 = vectorKey(v, blockVectors, blockWidth);
            int key1 = vectorKey(v + 1, blockVectors, blockWidth);
            int key2 = vectorKey(v + 2, blockVectors, blockWidth);
            int key3 = vectorKey(v + 3, blockVectors, blockWidth);
            FloatVector sum0 = FloatVector.zero(FLOAT);
            FloatVector sum1 = FloatVector.zero(FLOAT);
            FloatVector sum2 = FloatVector.zero(FLOAT);
            FloatVector sum3 = FloatVector.zero(FLOAT);
            int c0 = columnStart(key0, blockWidth, blockStride);
            int c1 = columnStart(key1, blockWidth, blockStride);
            int c2 = columnStart(key2, blockWidth, blockStride);
            int c3 = columnStart(key3, blockWidth, blockStride);
            for (int d = 0; d < n; d++, c0 += blockWidth, c1 += blockWidth, c2 += blockWidth, c3 += blockWidth) {
                FloatVector qd = FloatVector.broadcast(FLOAT, q[qOff + d]);
                sum0 = FloatVector.fromArray(FLOAT, columns, c0).fma(qd, sum0);
                sum1 = FloatVector.fromArray(FLOAT, columns, c1).fma(qd, sum1);
                sum2 = FloatVector.fromArray(FLOAT, columns, c2).fma(qd, sum2);
                sum3 = FloatVector.fromArray(FLOAT, columns, c3).fma(qd, sum3);
            }
            FloatVector scores0 = sum0.mul(scale).add(FloatVector.fromArray(FLOAT, mask, key0));
            FloatVector scores1 = sum1.mul(scale).add(FloatVector.fromArray(FLOAT, mask, key1));
            FloatVector scores2 = sum2.mul(scale).add(FloatVector.fromArray(FLOAT, mask, key2));
            FloatVector scores3 = sum3.mul(scale).add(FloatVector.fromArray(FLOAT, mask, key3));
            scores0.intoArray(out, key0);
            scores1.intoArray(out, key1);
            scores2.intoArray(out, key2);
            scores3.intoArray(out, key3);
            scores0.max(scores1).max(scores2.max(scores3)).max(FloatVector.fromArray(FLOAT, maxLanes, 0)).intoArray(maxLanes, 0);
        }
        for (; v < vectors; v++) {
            int key = vectorKey(v, blockVectors, blockWidth);
            FloatVector sum = FloatVector.zero(FLOAT);
            for (int d = 0, c = columnStart(key, blockWidth, blockStride); d < n; d++, c += blockWidth) {
                sum = FloatVector.fromArray(FLOAT, columns, c).fma(FloatVector.broadcast(FLOAT, q[qOff + d]), sum);
            }
            FloatVector scores = sum.mul(scale).add(FloatVector.fromArray(FLOAT, mask, key));
            scores.intoArray(out, key);
            scores.max(FloatVector.fromArray(FLOAT, maxLanes, 0)).intoArray(maxLanes, 0);
        }
        float max = laneMax(maxLanes);
        for (int block = 0; block < width; block += blockWidth) {
            for (int key = block + blockVectors * LANES; key < block + blockWidth; key++) {
                float sum = 0;
                for (int d = 0, c = columnStart(key, blockWidth, blockStride); d < n; d++, c += blockWidth) {
                    sum = Math.fma(columns[c], q[qOff + d], sum);
                }
                out[key] = sum * scale + mask[key];
                max = Math.max(max, out[key]);
            }
        }
        return max;
    }

    /** The first key of vector v when each block of blockWidth keys holds blockVectors whole vectors. */
    private static int vectorKey(int v, int blockVectors, int blockWidth) {
        return v / blockVectors * blockWidth + v % blockVectors * LANES;
    }

    /** Where key's value 0 is in columns laid out in blocks ({@link #maskedColumnDots}). */
    private static int columnStart(int key, int blockWidth, int blockStride) {
        return key / blockWidth * blockStride + key % blockWidth;
    }

    /**
     * out[outOff + d] += the sum over j in [0, width) of weights[j] * columns[d * width + j], for d in [0, n): the
     * weighted sum of attention values stored column by column (value d of key j at {@code d * width + j}), for
     * heads narrower than a vector, where adding row after row would leave most lanes idle (stories260K: heads of
     * 8 values, 16 lanes). For each d, lane l sums the keys j = l (mod LANES) of the whole vectors in ascending
     * order (fused multiply-adds), the lanes are added pairwise ({@code lanes}: LANES floats of scratch), the keys
     * past the last whole vector are added one by one, and the total is added to out. Four values d are summed
     * side by side, so that their chains of multiply-adds overlap and share each load of the weights.
     */
    public static void addWeightedColumns(float[] weights, float[] columns, int width, int n, float[] lanes,
                                          float[] out, int outOff) {
        checkRange("weights", weights, 0, width);
        checkRange("columns", columns, 0, n * width);
        checkRange("lanes", lanes, 0, LANES);
        checkRange("out", out, outOff, n);
        int vectorEnd = width - width % LANES;
        int d = 0;
        for (; d <= n - 4; d += 4) {
            int column = d * width;
            FloatVector sum0 = FloatVector.zero(FLOAT);
            FloatVector sum1 = FloatVector.zero(FLOAT);
            FloatVector sum2 = FloatVector.zero(FLOAT);
            FloatVector sum3 = FloatVector.zero(FLOAT);
            for (int j = 0; j < vectorEnd; j += LANES) {
                FloatVector w = FloatVector.fromArray(FLOAT, weights, j);
                sum0 = FloatVector.fromArray(FLOAT, columns, column + j).fma(w, sum0);
                sum1 = FloatVector.fromArray(FLOAT, columns, column + width + j).fma(w, sum1);
                sum2 = FloatVector.fromArray(FLOAT, columns, column + 2 * width + j).fma(w, sum2);
                sum3 = FloatVector.fromArray(FLOAT, columns, column + 3 * width + j).fma(w, sum3);
            }
            sum0.intoArray(lanes, 0);
            out[outOff + d] += columnTail(weights, columns, column, vectorEnd, width, pairwiseSum(lanes));
            sum1.intoArray(lanes, 0);
            out[outOff + d + 1] += columnTail(weights, columns, column + width, vectorEnd, width, pairwiseSum(lanes));
            sum2.intoArray(lanes, 0);
            out[outOff + d + 2] += columnTail(weights, columns, column + 2 * width, vectorEnd, width, pairwiseSum(lanes));
            sum3.intoArray(lanes, 0);
            out[outOff + d + 3] += columnTail(weights, columns, column + 3 * width, vectorEnd, width, pairwiseSum(lanes));
        }
        for (; d < n; d++) {
            int column = d * width;
            FloatVector sum = FloatVector.zero(FLOAT);
            for (int j = 0; j < vectorEnd; j += LANES) {
                sum = FloatVector.fromArray(FLOAT, columns, column + j).fma(FloatVector.fromArray(FLOAT, weights, j), sum);
            }
            sum.intoArray(lanes, 0);
            out[outOff + d] += columnTail(weights, columns, column, vectorEnd, width, pairwiseSum(lanes));
        }
    }

    /** sum plus weights[j] * columns[column + j] for j in [from, width), one fused multiply-add after the other. */
    private static float columnTail(float[] weights, float[] columns, int column, int from, int width, float sum) {
        for (int j = from; j < width; j++) {
            sum = Math.fma(columns[column + j], weights[j], sum);
        }
        return sum;
    }

    /**
     * The sum of lanes[0 .. LANES) in a fixed order: lane i plus lane i + LANES/2, and so on down to one (the same
     * additions interpreted and compiled, unlike a vector's own lane reduction, whose order is the JIT's).
     */
    private static float pairwiseSum(float[] lanes) {
        for (int half = LANES / 2; half > 0; half /= 2) {
            for (int lane = 0; lane < half; lane++) {
                lanes[lane] += lanes[lane + half];
            }
        }
        return lanes[0];
    }

    /**
     * out[outOff .. outOff + n) += weights[wOff + j] * rows[rowStarts[j] ..] for j in [0, count), in that order,
     * exactly as {@link #axpy} row after row would (each output a fused multiply-add per row, in row order), with
     * the outputs held in registers across the rows instead of loaded and stored for each: the weighted sum of
     * attention values.
     */
    public static void addWeightedRows(float[] weights, int wOff, float[] rows, int[] rowStarts, int count, int n,
                                       float[] out, int outOff) {
        checkRange("weights", weights, wOff, count);
        checkRange("out", out, outOff, n);
        for (int j = 0; j < count; j++) {
            checkRange("rows", rows, rowStarts[j], n);
        }
        int i = 0;
        // Four vectors of outputs side by side: each vector's multiply-adds form one chain that waits for its
        // previous add, so a single chain per pass over the rows would leave the multiply-add units mostly idle.
        for (int quadEnd = n - 4 * LANES; i <= quadEnd; i += 4 * LANES) {
            FloatVector sum0 = FloatVector.fromArray(FLOAT, out, outOff + i);
            FloatVector sum1 = FloatVector.fromArray(FLOAT, out, outOff + i + LANES);
            FloatVector sum2 = FloatVector.fromArray(FLOAT, out, outOff + i + 2 * LANES);
            FloatVector sum3 = FloatVector.fromArray(FLOAT, out, outOff + i + 3 * LANES);
            for (int j = 0; j < count; j++) {
                FloatVector weight = FloatVector.broadcast(FLOAT, weights[wOff + j]);
                int row = rowStarts[j] + i;
                sum0 = FloatVector.fromArray(FLOAT, rows, row).fma(weight, sum0);
                sum1 = FloatVector.fromArray(FLOAT, rows, row + LANES).fma(weight, sum1);
                sum2 = FloatVector.fromArray(FLOAT, rows, row + 2 * LANES).fma(weight, sum2);
                sum3 = FloatVector.fromArray(FLOAT, rows, row + 3 * LANES).fma(weight, sum3);
            }
            sum0.intoArray(out, outOff + i);
            sum1.intoArray(out, outOff + i + LANES);
            sum2.intoArray(out, outOff + i + 2 * LANES);
            sum3.intoArray(out, outOff + i + 3 * LANES);
        }
        for (int vectorEnd = n - LANES; i <= vectorEnd; i += LANES) {
            FloatVector sum = FloatVector.fromArray(FLOAT, out, outOff + i);
            for (int j = 0; j < count; j++) {
                sum = FloatVector.fromArray(FLOAT, rows, rowStarts[j] + i).fma(FloatVector.broadcast(FLOAT, weights[wOff + j]), sum);
            }
            sum.intoArray(out, outOff + i);
        }
        // Half a vector more if it fits: a head of 8 values with 16 lanes (stories260K) would otherwise be all tail.
        if (n - i >= HALF.length()) {
            FloatVector sum = FloatVector.fromArray(HALF, out, outOff + i);
            for (int j = 0; j < count; j++) {
                sum = FloatVector.fromArray(HALF, rows, rowStarts[j] + i).fma(FloatVector.broadcast(HALF, weights[wOff + j]), sum);
            }
            sum.intoArray(out, outOff + i);
            i += HALF.length();
        }
        for (; i < n; i++) {
            float sum = out[outOff + i];
            for (int j = 0; j < count; j++) {
                sum = Math.fma(rows[rowStarts[j] + i], weights[wOff + j], sum);
            }
            out[outOff + i] = sum;
        }
    }

    /**
     * sum of x[off + i]² for i in [0, n): each square is rounded to float and the squares are summed
     * in double, as ggml's rms_norm does ({@code sum += (ggml_float)(x*x)}), so the sum hardly depends
     * on the order of the additions.
     */
    public static double sumOfSquares(float[] x, int off, int n) {
        checkRange("x", x, off, n);
        DoubleVector acc0 = DoubleVector.zero(DOUBLE);
        DoubleVector acc1 = DoubleVector.zero(DOUBLE);
        int i = 0;
        for (int vectorEnd = n - LANES; i <= vectorEnd; i += LANES) {
            FloatVector v = FloatVector.fromArray(FLOAT, x, off + i);
            FloatVector squares = v.mul(v);
            acc0 = acc0.add(squares.convertShape(VectorOperators.F2D, DOUBLE, 0));
            acc1 = acc1.add(squares.convertShape(VectorOperators.F2D, DOUBLE, 1));
        }
        double sum = Vectors.sum(acc0.add(acc1));
        for (; i < n; i++) {
            float v = x[off + i];
            sum += v * v;
        }
        return sum;
    }

    /**
     * RMS normalisation: out[i] = x[i] * scale * weight[i] with scale = 1 / sqrt(mean + eps), where the
     * mean of the squares comes from {@link #sumOfSquares} (double accumulation, then rounded to float)
     * and the scale is computed in float, the same arithmetic as ggml's rms_norm followed by its multiply
     * by the weight. (llama2.c accumulates in float; for real widths the two scales differ by about 1e-7
     * relative.) out may be x itself.
     */
    public static void rmsNorm(float[] out, int outOff, float[] x, int xOff, float[] weight, int n, float eps) {
        checkRange("out", out, outOff, n);
        checkRange("weight", weight, 0, n);
        if (n == 0) {
            return;
        }
        float mean = (float) (sumOfSquares(x, xOff, n) / n);
        float scale = 1f / (float) Math.sqrt(mean + eps);
        int i = 0;
        for (int vectorEnd = n - LANES; i <= vectorEnd; i += LANES) {
            FloatVector.fromArray(FLOAT, x, xOff + i).mul(scale).mul(FloatVector.fromArray(FLOAT, weight, i))
                    .intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            out[outOff + i] = x[xOff + i] * scale * weight[i];
        }
    }

    /** x[off + i] *= s. */
    public static void scale(float[] x, int off, int n, float s) {
        checkRange("x", x, off, n);
        int i = 0;
        for (int vectorEnd = n - LANES; i <= vectorEnd; i += LANES) {
            FloatVector.fromArray(FLOAT, x, off + i).mul(s).intoArray(x, off + i);
        }
        for (; i < n; i++) {
            x[off + i] *= s;
        }
    }

    /** y[yOff + i] += a * x[xOff + i], with one rounding (fused multiply-add) in the vector body and the tail alike. */
    public static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        checkRange("x", x, xOff, n);
        checkRange("y", y, yOff, n);
        FloatVector av = FloatVector.broadcast(FLOAT, a);
        int i = 0;
        for (int vectorEnd = n - LANES; i <= vectorEnd; i += LANES) {
            FloatVector.fromArray(FLOAT, x, xOff + i).fma(av, FloatVector.fromArray(FLOAT, y, yOff + i))
                    .intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] = Math.fma(x[xOff + i], a, y[yOff + i]);
        }
    }

    /** x[xOff + i] *= y[yOff + i]. */
    public static void multiply(float[] x, int xOff, float[] y, int yOff, int n) {
        checkRange("x", x, xOff, n);
        checkRange("y", y, yOff, n);
        int i = 0;
        for (int vectorEnd = n - LANES; i <= vectorEnd; i += LANES) {
            FloatVector.fromArray(FLOAT, x, xOff + i).mul(FloatVector.fromArray(FLOAT, y, yOff + i)).intoArray(x, xOff + i);
        }
        for (; i < n; i++) {
            x[xOff + i] *= y[yOff + i];
        }
    }

    /** x[xOff + i] += y[yOff + i] (the residual connection). */
    public static void add(float[] x, int xOff, float[] y, int yOff, int n) {
        checkRange("x", x, xOff, n);
        checkRange("y", y, yOff, n);
        int i = 0;
        for (int vectorEnd = n - LANES; i <= vectorEnd; i += LANES) {
            FloatVector.fromArray(FLOAT, x, xOff + i).add(FloatVector.fromArray(FLOAT, y, yOff + i)).intoArray(x, xOff + i);
        }
        for (; i < n; i++) {
            x[xOff + i] += y[yOff + i];
        }
    }

    /**
     * In-place softmax of x[off .. off + n): exp(x - max) / sum, with the maximum subtracted first so
     * that no exponential overflows. n = 0 does nothing.
     */
    public static void softmax(float[] x, int off, int n) {
        checkRange("x", x, off, n);
        if (n == 0) {
            return;
        }
        float sum = expShifted(x, off, n, max(x, off, n));
        scale(x, off, n, 1f / sum);
    }

    /**
     * x[i] = {@link #exp}(x[i] - shift) for i in [off, off + n), in place; returns the sum of the results, added
     * in a fixed order (per lane, then the lanes pairwise, then the values that fill no vector).
     */
    public static float expShifted(float[] x, int off, int n, float shift) {
        return expScaled(x, off, x, off, n, shift, 1f); // (x - shift) * 1 is x - shift exactly
    }

    /**
     * out[outOff + i] = {@link #exp}((x[xOff + i] - shift) * scale) for i in [0, n); out may be x. Returns the sum
     * of the results, added in a fixed order (per lane, then the lanes pairwise, then the values that fill no
     * vector).
     */
    public static float expScaled(float[] x, int xOff, float[] out, int outOff, int n, float shift, float scale) {
        checkRange("x", x, xOff, n);
        checkRange("out", out, outOff, n);
        FloatVector sumV = FloatVector.zero(FLOAT);
        int i = 0;
        for (int vectorEnd = n - LANES; i <= vectorEnd; i += LANES) {
            exp(x, xOff + i, shift, scale, out, outOff + i);
            sumV = sumV.add(FloatVector.fromArray(FLOAT, out, outOff + i));
        }
        // Vectors.sum's additions, over the lanes stored: passing the vector to it boxes the vector on every call
        // where the JIT does not inline it (attention's online softmax calls this once per query head and tile).
        float[] lanes = LANE_VECTORS.get();
        sumV.intoArray(lanes, 0);
        float sum = pairwiseSum(lanes);
        for (; i < n; i++) {
            float e = exp((x[xOff + i] - shift) * scale);
            out[outOff + i] = e;
            sum += e;
        }
        return sum;
    }

    // exp(x) = 2^k * exp(r), k = round(x / ln 2), r = x - k ln 2 in [-ln 2 / 2, ln 2 / 2], where the Taylor series
    // to r^7 is exact to a tenth of a float ulp. Plain IEEE operations only (no EXP intrinsic, whose last bits
    // differ between compiled and interpreted code), so every result is the same before and after warm-up and
    // in the vector lanes and the scalar tail alike.
    private static final float LOG2_E = 1.442695041f;
    /** ln 2 split in two: the high part has few significant bits, so k * LN2_HIGH is exact. */
    private static final float LN2_HIGH = 0.693145751953125f;
    private static final float LN2_LOW = 1.428606765e-6f;
    /** 1.5 * 2^23: added and subtracted, it rounds a float of magnitude below 2^22 to an integer. */
    private static final float ROUNDER = 12582912f;
    /**
     * Above EXP_MAX the result overflows to infinity (k would pass 127); below EXP_MIN e^x is under half the
     * smallest float, so 0. In between, 2^k is applied as two normal powers of two, 2^(k >> 1) and the rest, so
     * that results below the smallest normal float come out correctly rounded (gradual underflow).
     */
    private static final float EXP_MAX = 88f;
    private static final float EXP_MIN = -104f;
    private static final float[] TAYLOR = {1f / 5040, 1f / 720, 1f / 120, 1f / 24, 1f / 6, 1f / 2, 1f, 1f};

    /**
     * e^x within 2 float ulps for x in [-87.33, 88] (results from the smallest normal float up), rounded
     * subnormals below that down to -104, +infinity above 88, 0 below -104, NaN for NaN. The same bits as
     * vector version gives in each lane.
     */
    public static float exp(float x) {
        if (x > EXP_MAX) {
            return Float.POSITIVE_INFINITY;
        }
        if (x < EXP_MIN) {
            return 0f;
        }
        float k = x * LOG2_E + ROUNDER - ROUNDER;
        float r = Math.fma(k, -LN2_LOW, Math.fma(k, -LN2_HIGH, x));
        float p = TAYLOR[0];
        for (int i = 1; i < TAYLOR.length; i++) {
            p = Math.fma(p, r, TAYLOR[i]);
        }
        int high = (int) k >> 1;
        return p * Float.intBitsToFloat((high + 127) << 23) * Float.intBitsToFloat(((int) k - high + 127) << 23);
    }

    /**
     * out[outAt + j] = {@link #exp(float)}((x[xAt + j] - shift) * scale) for the LANES values from xAt, each lane
     * the same bits as the scalar function. Array to array, with no vector crossing a method boundary: a vector
     * passed to or returned from a method that the JIT compiled on its own and then found too big to inline is
     * boxed, an allocation per call (measured: the sampler went from 0 to 3 MB per token that way).
     */
    private static void exp(float[] x, int xAt, float shift, float scale, float[] out, int outAt) {
        FloatVector v = FloatVector.fromArray(FLOAT, x, xAt).sub(shift).mul(scale);
        FloatVector clamped = v.max(EXP_MIN).min(EXP_MAX);
        FloatVector k = clamped.mul(LOG2_E).add(ROUNDER).sub(ROUNDER);
        FloatVector r = k.fma(FloatVector.broadcast(FLOAT, -LN2_HIGH), clamped);
        r = k.fma(FloatVector.broadcast(FLOAT, -LN2_LOW), r);
        FloatVector p = FloatVector.broadcast(FLOAT, TAYLOR[0]);
        for (int i = 1; i < TAYLOR.length; i++) {
            p = p.fma(r, FloatVector.broadcast(FLOAT, TAYLOR[i]));
        }
        IntVector kInt = (IntVector) k.convert(VectorOperators.F2I, 0);
        IntVector high = kInt.lanewise(VectorOperators.ASHR, 1);
        // 2^k as two normal powers of two, 2^(k >> 1) and the rest (exponent bits built directly)
        FloatVector twoToHigh = high.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector twoToRest = kInt.sub(high).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        p.mul(twoToHigh).mul(twoToRest)
                .blend(0f, v.compare(VectorOperators.LT, EXP_MIN))
                .blend(Float.POSITIVE_INFINITY, v.compare(VectorOperators.GT, EXP_MAX))
                .intoArray(out, outAt);
    }

    /**
     * The largest of x[off .. off + n): NaN if any of them is NaN, -infinity for n = 0. The running maximum of each
     * lane is carried in memory, not in a vector variable: C2 sometimes failed to keep such a loop-carried maximum
     * in a register and allocated a vector object per iteration instead (runs that grew to 5-7 GB resident,
     * docs/performance.md); a store and a load per vector cost far less.
     */
    static float max(float[] x, int off, int n) {
        checkRange("x", x, off, n);
        float[] lanes = LANE_VECTORS.get();
        Arrays.fill(lanes, 0, LANES, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (int vectorEnd = n - LANES; i <= vectorEnd; i += LANES) {
            FloatVector.fromArray(FLOAT, x, off + i).max(FloatVector.fromArray(FLOAT, lanes, 0)).intoArray(lanes, 0);
        }
        float max = laneMax(lanes);
        for (; i < n; i++) {
            max = Math.max(max, x[off + i]);
        }
        return max;
    }

    /** The largest of the first {@link #LANES} values of a running maximum kept in memory (NaN if any is NaN). */
    private static float laneMax(float[] lanes) {
        float max = Float.NEGATIVE_INFINITY;
        for (int lane = 0; lane < LANES; lane++) {
            max = Math.max(max, lanes[lane]);
        }
        return max;
    }

    /**
     * The index (counted from off) of the largest of x[off .. off + n), the first one on ties; NaNs
     * are never the largest. Scalar: it runs once per generated token, far from the hot loops.
     *
     * @throws IllegalArgumentException if n is 0
     */
    public static int argmax(float[] x, int off, int n) {
        checkRange("x", x, off, n);
        if (n == 0) {
            throw new IllegalArgumentException("argmax of an empty range");
        }
        int best = 0;
        float bestValue = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            if (x[off + i] > bestValue) {
                bestValue = x[off + i];
                best = i;
            }
        }
        return best;
    }

    /**
     * LayerNorm: out = (x - mean) / sqrt(variance + eps) * weight + bias over n values (GPT-2), mean and variance
     * summed in double. out may be x.
     */
    public static void layerNorm(float[] out, int outOff, float[] x, int xOff, float[] weight, float[] bias, int n, float eps) {
        checkRange("x", x, xOff, n);
        checkRange("out", out, outOff, n);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += x[xOff + i];
        }
        float mean = (float) (sum / n);
        double squares = 0;
        for (int i = 0; i < n; i++) {
            float d = x[xOff + i] - mean;
            squares += d * d;
        }
        float scale = (float) (1 / Math.sqrt(squares / n + eps));
        for (int i = 0; i < n; i++) {
            out[outOff + i] = (x[xOff + i] - mean) * scale * weight[i] + bias[i];
        }
    }

    /** GELU, with GPT-2's tanh approximation, in place over x[off .. off + n). */
    public static void gelu(float[] x, int off, int n) {
        checkRange("x", x, off, n);
        final float sqrtTwoOverPi = 0.7978845608f;
        for (int i = off; i < off + n; i++) {
            float v = x[i];
            x[i] = 0.5f * v * (1 + (float) Math.tanh(sqrtTwoOverPi * (v + 0.044715f * v * v * v)));
        }
    }

    /** SwiGLU: gate[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)). */
    public static void swiglu(float[] gate, float[] up, int n) {
        checkRange("gate", gate, 0, n);
        checkRange("up", up, 0, n);
        float[] negatedExp = LANE_VECTORS.get();
        int i = 0;
        for (int vectorEnd = n - LANES; i <= vectorEnd; i += LANES) {
            exp(gate, i, 0f, -1f, negatedExp, 0); // (g - 0) * -1 is -g exactly
            FloatVector g = FloatVector.fromArray(FLOAT, gate, i);
            g.div(FloatVector.fromArray(FLOAT, negatedExp, 0).add(1f)).mul(FloatVector.fromArray(FLOAT, up, i))
                    .intoArray(gate, i);
        }
        for (; i < n; i++) {
            float g = gate[i];
            gate[i] = g / (exp(-g) + 1f) * up[i];
        }
    }

    private static void checkRange(String name, float[] array, int off, int n) {
        if (n < 0 || off < 0 || off > array.length - n) {
            throw new IllegalArgumentException("%s: %d values at offset %d do not fit in an array of %d"
                    .formatted(name, n, off, array.length));
        }
    }
}
