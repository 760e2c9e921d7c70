package dev.winnow.tests.training;

import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;
import java.util.function.IntPredicate;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Central finite differences of a float computation, against an analytic gradient. The computation runs in
 * float, so a difference quotient carries rounding noise of about (float epsilon x |loss|) / step; the
 * tolerance is an absolute part for that noise plus a relative part for the step's truncation error.
 */
final class FiniteDifferences {
    private FiniteDifferences() {
    }

    /**
     * Checks d loss / d x[i] = analytic[i] for every i, moving x[i] by about {@code step} (the move actually
     * made, after rounding to float, is the one divided by).
     */
    static void check(String what, float[] x, float[] analytic, DoubleSupplier loss, double step, double absolute,
                      double relative) {
        check(what, x, analytic, loss, step, absolute, relative, i -> true);
    }

    /** {@link #check} for the indices {@code which} accepts. */
    static void check(String what, float[] x, float[] analytic, DoubleSupplier loss, double step, double absolute,
                      double relative, IntPredicate which) {
        for (int i = 0; i < x.length; i++) {
            if (!which.test(i)) {
                continue;
            }
            float saved = x[i];
            float up = (float) (saved + step);
            float down = (float) (saved - step);
            x[i] = up;
            double lossUp = loss.getAsDouble();
            x[i] = down;
            double lossDown = loss.getAsDouble();
            x[i] = saved;
            double numeric = (lossUp - lossDown) / ((double) up - down);
            double error = Math.abs(numeric - analytic[i]);
            if (!(error <= absolute + relative * Math.max(Math.abs(numeric), Math.abs(analytic[i])))) {
                fail("%s[%d]: analytic %.6g, finite differences %.6g".formatted(what, i, analytic[i], numeric));
            }
        }
    }

    /** sum_i out[i] * weights[i], in double: a random linear function of an operation's output. */
    static double dot(float[] out, float[] weights) {
        double sum = 0;
        for (int i = 0; i < weights.length; i++) {
            sum += (double) out[i] * weights[i];
        }
        return sum;
    }

    /** n values uniform in [-scale, scale]. */
    static float[] uniform(SplittableRandom random, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) ((random.nextDouble() * 2 - 1) * scale);
        }
        return v;
    }
}
