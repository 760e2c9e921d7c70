package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.FLOAT;
import static dev.winnow.tensors.Vectors.LANES;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The element-wise and reduction operations of the forward pass, over float arrays with offsets:
 * Vector API bodies with scalar loops for the tails. Ranges are checked up front; a range that does
 * not fit gives an {@link IllegalArgumentException} naming it.
 */
public final class VectorMath {
    /** Doubles in a vector as wide as {@link Vectors#FLOAT}: each float vector widens into two. */
    private static final VectorSpecies<Double> DOUBLE = FLOAT.withLanes(double.class);

    private VectorMath() {
    }

    /** sum of a[aOff + i] * b[bOff + i] for i in [0, n), accumulated in float. */
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
        float sum = Vectors.sum(acc0.add(acc1));
        for (; i < n; i++) {
            sum += a[aOff + i] * b[bOff + i];
        }
        return sum;
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
        float max = max(x, off, n);
        // Scalar exp on purpose: the Vector API's EXP gives different last bits compiled and interpreted, so
        // results would change with warm-up; Math.exp is the same everywhere.
        float sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        scale(x, off, n, 1f / sum);
    }

    private static float max(float[] x, int off, int n) {
        FloatVector maxV = FloatVector.broadcast(FLOAT, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (int vectorEnd = n - LANES; i <= vectorEnd; i += LANES) {
            maxV = maxV.max(FloatVector.fromArray(FLOAT, x, off + i));
        }
        float max = maxV.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            max = Math.max(max, x[off + i]);
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
        // Scalar exp, for reproducible results (see softmax).
        for (int i = 0; i < n; i++) {
            float g = gate[i];
            gate[i] = g / (1f + (float) Math.exp(-g)) * up[i];
        }
    }

    private static void checkRange(String name, float[] array, int off, int n) {
        if (n < 0 || off < 0 || off > array.length - n) {
            throw new IllegalArgumentException("%s: %d values at offset %d do not fit in an array of %d"
                    .formatted(name, n, off, array.length));
        }
    }
}
