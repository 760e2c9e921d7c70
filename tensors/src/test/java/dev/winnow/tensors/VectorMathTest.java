package dev.winnow.tensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;

import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * Each operation against a double-precision reference, for every length 0..300 (so every tail length of
 * every vector width) at random offsets, with the values around the range checked untouched.
 */
class VectorMathTest {
    private static final int MAX_LENGTH = 300;
    private static final float GUARD = -123.25f;
    private static final double U = 0x1p-24; // unit roundoff of float

    /** n random values (varied signs and magnitudes) at a random offset, with guard values around them. */
    private record Range(float[] array, int off, int n) {
        static Range random(int n, Random r, double scale) {
            int off = r.nextInt(4);
            float[] a = new float[off + n + r.nextInt(4)];
            Arrays.fill(a, GUARD);
            for (int i = 0; i < n; i++) {
                a[off + i] = (float) (r.nextGaussian() * scale);
            }
            return new Range(a, off, n);
        }

        float at(int i) {
            return array[off + i];
        }

        float[] values() {
            return Arrays.copyOfRange(array, off, off + n);
        }

        void assertGuardsIntact() {
            for (int i = 0; i < array.length; i++) {
                if (i < off || i >= off + n) {
                    assertEquals(GUARD, array[i], "element " + i + " outside the range was written");
                }
            }
        }
    }

    private static void assertWithin(double expected, double actual, double tolerance, String what) {
        assertTrue(Math.abs(expected - actual) <= tolerance,
                () -> "%s: got %s, expected %s within %s".formatted(what, actual, expected, tolerance));
    }

    @Property(tries = 8)
    void dotIsWithinTheFloatSummationBound(@ForAll long seed) {
        Random r = new Random(seed);
        for (int n = 0; n <= MAX_LENGTH; n++) {
            Range a = Range.random(n, r, 3);
            Range b = Range.random(n, r, 3);
            double exact = 0;
            double magnitude = 0;
            for (int i = 0; i < n; i++) {
                exact += (double) a.at(i) * b.at(i);
                magnitude += Math.abs((double) a.at(i) * b.at(i));
            }
            float got = VectorMath.dot(a.array(), a.off(), b.array(), b.off(), n);
            assertWithin(exact, got, 2 * (n + 1) * U * magnitude, "dot of " + n);
        }
    }

    @Property(tries = 8)
    void sumOfSquaresSumsTheFloatSquaresInDouble(@ForAll long seed) {
        Random r = new Random(seed);
        for (int n = 0; n <= MAX_LENGTH; n++) {
            Range x = Range.random(n, r, 10);
            double expected = 0;
            for (int i = 0; i < n; i++) {
                float square = x.at(i) * x.at(i);
                expected += square;
            }
            assertWithin(expected, VectorMath.sumOfSquares(x.array(), x.off(), n), 1e-14 * expected, "sum of squares of " + n);
        }
    }

    /** A handful of float roundings (mean, + eps, sqrt, reciprocal, two products): a few units of 2^-24 relative. */
    @Property(tries = 8)
    void rmsNormNormalisesAndScales(@ForAll long seed) {
        Random r = new Random(seed);
        float eps = 1e-5f;
        for (int n = 1; n <= MAX_LENGTH; n++) {
            Range x = Range.random(n, r, 2);
            float[] weight = Range.random(n, r, 1).values();
            Range out = Range.random(n, r, 1);
            double meanSquare = 0;
            for (int i = 0; i < n; i++) {
                meanSquare += (double) x.at(i) * x.at(i);
            }
            double scale = 1 / Math.sqrt(meanSquare / n + eps);
            VectorMath.rmsNorm(out.array(), out.off(), x.array(), x.off(), weight, n, eps);
            for (int i = 0; i < n; i++) {
                double expected = x.at(i) * scale * weight[i];
                assertWithin(expected, out.at(i), 8 * U * Math.abs(expected), "rmsNorm of " + n + " at " + i);
            }
            out.assertGuardsIntact();
        }
    }

    @Example
    void rmsNormMayWriteOverItsInput() {
        float[] x = {3f, 4f, 0f, -5f, 1f};
        float[] weight = {1f, 2f, 1f, 1f, 0.5f};
        float[] separate = new float[5];
        VectorMath.rmsNorm(separate, 0, x, 0, weight, 5, 1e-6f);
        VectorMath.rmsNorm(x, 0, x, 0, weight, 5, 1e-6f);
        assertEquals(Arrays.toString(separate), Arrays.toString(x));
    }

    /** One float rounding per element: exactly the float nearest the exact result. */
    @Property(tries = 6)
    void elementwiseOperationsRoundOnce(@ForAll long seed) {
        Random r = new Random(seed);
        for (int n = 0; n <= MAX_LENGTH; n++) {
            float s = (float) r.nextGaussian();
            Range x = Range.random(n, r, 5);
            float[] before = x.values();
            VectorMath.scale(x.array(), x.off(), n, s);
            for (int i = 0; i < n; i++) {
                assertEquals((float) ((double) before[i] * s), x.at(i), "scale at " + i);
            }
            x.assertGuardsIntact();

            Range y = Range.random(n, r, 5);
            Range z = Range.random(n, r, 5);
            float[] zBefore = z.values();
            VectorMath.multiply(z.array(), z.off(), y.array(), y.off(), n);
            for (int i = 0; i < n; i++) {
                assertEquals((float) ((double) zBefore[i] * y.at(i)), z.at(i), "multiply at " + i);
            }
            z.assertGuardsIntact();

            zBefore = z.values();
            VectorMath.add(z.array(), z.off(), y.array(), y.off(), n);
            for (int i = 0; i < n; i++) {
                assertEquals((float) ((double) zBefore[i] + y.at(i)), z.at(i), "add at " + i);
            }
            z.assertGuardsIntact();
            y.assertGuardsIntact();
        }
    }

    /** y + a*x with a single rounding: within half an ulp of the exact value, up to the double's own rounding. */
    @Property(tries = 6)
    void axpyIsAFusedMultiplyAdd(@ForAll long seed) {
        Random r = new Random(seed);
        for (int n = 0; n <= MAX_LENGTH; n++) {
            float a = (float) r.nextGaussian();
            Range x = Range.random(n, r, 5);
            Range y = Range.random(n, r, 5);
            float[] yBefore = y.values();
            VectorMath.axpy(a, x.array(), x.off(), y.array(), y.off(), n);
            for (int i = 0; i < n; i++) {
                double exact = yBefore[i] + (double) a * x.at(i);
                assertWithin(exact, y.at(i), 0.5 * Math.ulp(y.at(i)) * (1 + 1e-9), "axpy at " + i);
            }
            y.assertGuardsIntact();
            x.assertGuardsIntact();
        }
    }

    /**
     * maskedColumnDots gives, in every lane and in the tail alike, the scalar fused multiply-adds over d in
     * ascending order, scaled, plus the mask, and returns their maximum: for the plain column layout (one block as
     * wide as the tile) and for keys in blocks (a page stored column by column), of widths that fill whole vectors
     * and widths that leave keys over.
     */
    @Property(tries = 8)
    void maskedColumnDotsAreFusedColumnSums(@ForAll long seed) {
        Random r = new Random(seed);
        for (int width = 0; width <= 100; width++) {
            checkMaskedColumnDots(r, width, Math.max(1, width));
        }
        for (int blockWidth = 1; blockWidth <= 70; blockWidth++) {
            checkMaskedColumnDots(r, blockWidth * (1 + r.nextInt(5)), blockWidth);
        }
    }

    private static void checkMaskedColumnDots(Random r, int width, int blockWidth) {
        int n = 1 + r.nextInt(40);
        Range q = Range.random(n, r, 1);
        float[] columns = new float[n * width];
        float[] mask = new float[width];
        for (int i = 0; i < columns.length; i++) {
            columns[i] = (float) r.nextGaussian();
        }
        for (int j = 0; j < width; j++) {
            mask[j] = r.nextInt(4) == 0 ? Float.NEGATIVE_INFINITY : 0f;
        }
        float scale = (float) (1 / Math.sqrt(n));
        float[] out = new float[width + 1];
        out[width] = GUARD;
        float max = VectorMath.maskedColumnDots(q.array(), q.off(), n, columns, width, blockWidth, scale, mask, out);
        float expectedMax = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < width; j++) {
            int block = j / blockWidth * blockWidth * n;
            float sum = 0;
            for (int d = 0; d < n; d++) {
                sum = Math.fma(columns[block + d * blockWidth + j % blockWidth], q.at(d), sum);
            }
            float expected = sum * scale + mask[j];
            expectedMax = Math.max(expectedMax, expected);
            assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(out[j]),
                    "key %d of %d in blocks of %d".formatted(j, width, blockWidth));
        }
        assertEquals(Float.floatToIntBits(expectedMax), Float.floatToIntBits(max),
                "maximum of %d in blocks of %d".formatted(width, blockWidth));
        assertEquals(GUARD, out[width]);
    }

    /**
     * addWeightedColumns adds to each output, to the bit, what its documented order gives: per lane the fused
     * multiply-adds of the keys of that lane in the whole vectors, the lanes added pairwise, then the keys of the
     * tail one by one; and that is within the float summation bound of the exact weighted sum.
     */
    @Property(tries = 8)
    void addWeightedColumnsSumsEachColumnInItsDocumentedOrder(@ForAll long seed) {
        Random r = new Random(seed);
        int lanes = Vectors.LANES;
        for (int width = 0; width <= 90; width++) {
            int n = 1 + r.nextInt(12);
            float[] columns = new float[n * width];
            float[] weights = new float[width];
            for (int i = 0; i < columns.length; i++) {
                columns[i] = (float) r.nextGaussian();
            }
            for (int j = 0; j < width; j++) {
                weights[j] = r.nextInt(5) == 0 ? 0f : r.nextFloat();
            }
            Range out = Range.random(n, r, 1);
            float[] before = out.values();
            VectorMath.addWeightedColumns(weights, columns, width, n, new float[lanes], out.array(), out.off());
            int vectorEnd = width - width % lanes;
            for (int d = 0; d < n; d++) {
                float[] partial = new float[lanes];
                for (int j = 0; j < vectorEnd; j++) {
                    partial[j % lanes] = Math.fma(columns[d * width + j], weights[j], partial[j % lanes]);
                }
                for (int half = lanes / 2; half > 0; half /= 2) {
                    for (int lane = 0; lane < half; lane++) {
                        partial[lane] += partial[lane + half];
                    }
                }
                float sum = partial[0];
                double exact = 0;
                double magnitude = 0;
                for (int j = 0; j < width; j++) {
                    if (j >= vectorEnd) {
                        sum = Math.fma(columns[d * width + j], weights[j], sum);
                    }
                    exact += (double) columns[d * width + j] * weights[j];
                    magnitude += Math.abs((double) columns[d * width + j] * weights[j]);
                }
                float expected = before[d] + sum;
                assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(out.at(d)), "value " + d + " of width " + width);
                assertWithin(before[d] + exact, out.at(d), (width + 2) * U * (magnitude + Math.abs(before[d])),
                        "value " + d + " of width " + width);
            }
            out.assertGuardsIntact();
        }
    }

    /** addWeightedRows is axpy row after row, to the bit. */
    @Property(tries = 8)
    void addWeightedRowsIsAxpyRowAfterRow(@ForAll long seed) {
        Random r = new Random(seed);
        for (int n = 0; n <= MAX_LENGTH; n++) {
            int count = r.nextInt(20);
            float[] rows = new float[n * 6 + 3];
            for (int i = 0; i < rows.length; i++) {
                rows[i] = (float) r.nextGaussian();
            }
            int[] starts = new int[count];
            float[] weights = new float[count + 1];
            for (int j = 0; j < count; j++) {
                starts[j] = r.nextInt(rows.length - n + 1);
                weights[j + 1] = (float) r.nextGaussian();
            }
            Range out = Range.random(n, r, 2);
            float[] expected = out.values();
            for (int j = 0; j < count; j++) {
                VectorMath.axpy(weights[j + 1], rows, starts[j], expected, 0, n);
            }
            VectorMath.addWeightedRows(weights, 1, rows, starts, count, n, out.array(), out.off());
            for (int i = 0; i < n; i++) {
                assertEquals(Float.floatToIntBits(expected[i]), Float.floatToIntBits(out.at(i)), "element " + i + " of " + n);
            }
            out.assertGuardsIntact();
        }
    }

    /**
     * Each probability is within a relative (n + 16) * 2^-23 + |x - max| * 2^-24 of exp(x - max) / sum:
     * the float sum of n terms, a few roundings, the vector exponential's error of a few ulps, and the
     * rounding of x - max in float, which exp turns into a relative error of that size.
     */
    /** The polynomial exp against Math.exp: within 2 float ulps over its whole range, and the edges. */
    @Property(tries = 2000)
    void expIsWithinTwoUlpsOfMathExp(@ForAll long seed) {
        Random r = new Random(seed);
        float x = -87.33f + 175.33f * r.nextFloat();
        double expected = Math.exp(x);
        float got = VectorMath.exp(x);
        assertTrue(Math.abs(got - expected) <= 2 * Math.ulp((float) expected),
                () -> "exp(%s) = %s, Math.exp gives %s".formatted(x, got, expected));
    }

    @Example
    void expHandlesItsEdges() {
        assertEquals(1f, VectorMath.exp(0f));
        assertEquals(0f, VectorMath.exp(Float.NEGATIVE_INFINITY));
        assertEquals((float) Math.exp(-90), VectorMath.exp(-90f), Float.MIN_VALUE, "a subnormal result");
        assertEquals(0f, VectorMath.exp(-110f));
        assertEquals(Float.POSITIVE_INFINITY, VectorMath.exp(89f));
        assertEquals(Float.POSITIVE_INFINITY, VectorMath.exp(Float.POSITIVE_INFINITY));
        assertTrue(Float.isNaN(VectorMath.exp(Float.NaN)));
    }

    /**
     * expShifted and expScaled: every element, in the vector lanes and in the tail alike, is exactly the scalar exp
     * of its value minus the shift, times the scale (edges included), written in place or to another array, and the
     * returned sum is within the float summation bound of the results.
     */
    @Property(tries = 8)
    void expScaledGivesTheScalarExpInEveryLane(@ForAll long seed) {
        Random r = new Random(seed);
        float[] edges = {Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, -100f, 100f, 0f};
        for (int n = 0; n <= MAX_LENGTH; n++) {
            Range x = Range.random(n, r, 20);
            if (n > 0 && r.nextInt(4) == 0) {
                x.array()[x.off() + r.nextInt(n)] = edges[r.nextInt(edges.length)];
            }
            float shift = (float) r.nextGaussian() * 5;
            float scale = r.nextBoolean() ? 1f : (float) Math.exp(r.nextGaussian());
            boolean inPlace = r.nextBoolean();
            Range out = inPlace ? x : Range.random(n, r, 1);
            float[] before = x.values();
            float sum = scale == 1f && inPlace ? VectorMath.expShifted(x.array(), x.off(), n, shift)
                    : VectorMath.expScaled(x.array(), x.off(), out.array(), out.off(), n, shift, scale);
            double expectedSum = 0;
            double magnitude = 0;
            for (int i = 0; i < n; i++) {
                float expected = VectorMath.exp((before[i] - shift) * scale);
                assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(out.at(i)), "element " + i + " of " + n);
                expectedSum += expected;
                magnitude += Math.abs(expected);
            }
            if (Double.isFinite(expectedSum) && !Double.isNaN(expectedSum)) {
                assertWithin(expectedSum, sum, (n + 1) * U * magnitude, "sum of " + n);
            }
            x.assertGuardsIntact();
            out.assertGuardsIntact();
        }
    }

    /** max is the scalar maximum, NaN as soon as one value is NaN, -infinity for nothing. */
    @Property(tries = 8)
    void maxIsTheScalarMaximum(@ForAll long seed) {
        Random r = new Random(seed);
        float[] edges = {Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, -0f, 0f};
        for (int n = 0; n <= MAX_LENGTH; n++) {
            Range x = Range.random(n, r, 20);
            if (n > 0 && r.nextInt(3) == 0) {
                x.array()[x.off() + r.nextInt(n)] = edges[r.nextInt(edges.length)];
            }
            float expected = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                expected = Math.max(expected, x.at(i));
            }
            assertEquals(expected, VectorMath.max(x.array(), x.off(), n), "max of " + n);
            x.assertGuardsIntact();
        }
    }

    @Property(tries = 8)
    void softmaxMatchesTheDoubleReference(@ForAll long seed) {
        Random r = new Random(seed);
        for (int n = 1; n <= MAX_LENGTH; n++) {
            Range x = Range.random(n, r, 1 + r.nextInt(30));
            float[] before = x.values();
            double max = Double.NEGATIVE_INFINITY;
            for (float v : before) {
                max = Math.max(max, v);
            }
            double sum = 0;
            for (float v : before) {
                sum += Math.exp(v - max);
            }
            VectorMath.softmax(x.array(), x.off(), n);
            double total = 0;
            for (int i = 0; i < n; i++) {
                double expected = Math.exp(before[i] - max) / sum;
                double relative = (n + 16) * 2 * U + Math.abs(before[i] - max) * U;
                assertWithin(expected, x.at(i), relative * expected + Float.MIN_NORMAL, "softmax of " + n + " at " + i);
                total += x.at(i);
            }
            assertWithin(1.0, total, (n + 16) * 2 * U, "probabilities of " + n + " sum to 1");
            x.assertGuardsIntact();
        }
    }

    @Example
    void softmaxDoesNotOverflowOnLargeLogits() {
        float[] x = {1000f, 999f, -1000f, 1000f};
        VectorMath.softmax(x, 0, 4);
        double e = Math.exp(-1);
        assertWithin(1 / (2 + e), x[0], 1e-6, "p0");
        assertWithin(e / (2 + e), x[1], 1e-6, "p1");
        assertEquals(0f, x[2]);
        assertEquals(x[0], x[3]);
    }

    @Property(tries = 8)
    void argmaxFindsTheFirstLargest(@ForAll long seed) {
        Random r = new Random(seed);
        for (int n = 1; n <= MAX_LENGTH; n++) {
            int off = r.nextInt(3);
            float[] x = new float[off + n + 2];
            Arrays.fill(x, 1e30f); // outside the range: must be ignored
            for (int i = 0; i < n; i++) {
                x[off + i] = r.nextInt(7) - 3; // few distinct values: ties are common
            }
            int expected = 0;
            for (int i = 1; i < n; i++) {
                if (x[off + i] > x[off + expected]) {
                    expected = i;
                }
            }
            assertEquals(expected, VectorMath.argmax(x, off, n), "argmax of " + n);
        }
    }

    @Example
    void argmaxSkipsNaNs() {
        assertEquals(2, VectorMath.argmax(new float[] {Float.NaN, -1f, 3f, Float.NaN, 2f}, 0, 5));
    }

    /** silu(g) * u = g / (1 + e^-g) * u: three float roundings and the exponential's few ulps. */
    @Property(tries = 8)
    void swigluIsSiluOfGateTimesUp(@ForAll long seed) {
        Random r = new Random(seed);
        for (int n = 0; n <= MAX_LENGTH; n++) {
            float[] gate = Range.random(n, r, 6).values();
            float[] up = Range.random(n, r, 2).values();
            float[] before = gate.clone();
            VectorMath.swiglu(gate, up, n);
            for (int i = 0; i < n; i++) {
                double g = before[i];
                double expected = g / (1 + Math.exp(-g)) * up[i];
                assertWithin(expected, gate[i], 16 * U * Math.abs(expected) + 1e-38, "swiglu at " + i);
            }
        }
    }

    @Example
    void rangesThatDoNotFitAreRefusedWithAReason() {
        float[] a = new float[10];
        assertThrows(IllegalArgumentException.class, () -> VectorMath.dot(a, 5, a, 0, 6));
        assertThrows(IllegalArgumentException.class, () -> VectorMath.dot(a, 0, a, 0, -1));
        assertThrows(IllegalArgumentException.class, () -> VectorMath.scale(a, -1, 2, 1f));
        assertThrows(IllegalArgumentException.class, () -> VectorMath.axpy(1f, a, 0, new float[3], 0, 4));
        assertThrows(IllegalArgumentException.class, () -> VectorMath.rmsNorm(a, 0, a, 0, new float[4], 5, 1e-5f));
        assertThrows(IllegalArgumentException.class, () -> VectorMath.softmax(a, 8, 3));
        assertThrows(IllegalArgumentException.class, () -> VectorMath.swiglu(a, new float[2], 3));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> VectorMath.argmax(a, 0, 0));
        assertTrue(e.getMessage().contains("empty"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> VectorMath.multiply(a, 0, a, 3, 8));
        assertTrue(e.getMessage().contains("8 values at offset 3"), e.getMessage());
    }
}
