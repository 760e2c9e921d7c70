package dev.winnow.engine.pruning;

/**
 * The alpha-sigmoid of dcp.md section 3: the first component of alpha-entmax([x, 0]). It is the logistic sigmoid
 * as alpha approaches 1, clip((x + 1) / 2, 0, 1) at alpha 2, and tends to the step function as alpha grows; for
 * alpha above 1 it is exactly 0 or 1 outside [-1/(alpha-1), 1/(alpha-1)].
 */
public final class AlphaSigmoid {
    /** Below this distance from 1, alpha is treated as 1 (the logistic sigmoid): the root problem is ill-conditioned there. */
    static final double LOGISTIC_LIMIT = 1e-3;
    private static final int BISECTION_STEPS = 80;

    private AlphaSigmoid() {
    }

    /** sigma_alpha(x). */
    public static double value(double alpha, double x) {
        if (alpha < 1) {
            throw new IllegalArgumentException("alpha must be at least 1, got " + alpha);
        }
        if (alpha - 1 < LOGISTIC_LIMIT) {
            return 1 / (1 + Math.exp(-x));
        }
        double bound = 1 / (alpha - 1);
        if (x >= bound) {
            return 1;
        }
        if (x <= -bound) {
            return 0;
        }
        if (x < 0) {
            return 1 - value(alpha, -x);
        }
        // Solve p(a - tau) + p(-tau) = 1 for tau, with a = (alpha-1) x and p(z) = max(z, 0)^(1/(alpha-1)).
        // The sum falls as tau rises: at least 1 at tau = a - 1, at most 1 at tau = a. Bisect between them.
        double a = (alpha - 1) * x;
        double exponent = 1 / (alpha - 1);
        double low = a - 1;
        double high = a;
        for (int i = 0; i < BISECTION_STEPS; i++) {
            double tau = 0.5 * (low + high);
            double total = positivePower(a - tau, exponent) + positivePower(-tau, exponent);
            if (total > 1) {
                low = tau;
            } else {
                high = tau;
            }
        }
        return positivePower(a - 0.5 * (low + high), exponent);
    }

    /** d sigma_alpha / dx: s1 s2 / (s1 + s2) with s1 = sigma^(2-alpha), s2 = (1-sigma)^(2-alpha); 0 where saturated. */
    public static double derivative(double alpha, double x) {
        double s = value(alpha, x);
        if (s <= 0 || s >= 1) {
            return 0;
        }
        double exponent = 2 - Math.max(alpha, 1);
        if (alpha - 1 < LOGISTIC_LIMIT) {
            exponent = 1;
        }
        double s1 = Math.pow(s, exponent);
        double s2 = Math.pow(1 - s, exponent);
        return s1 * s2 / (s1 + s2);
    }

    private static double positivePower(double base, double exponent) {
        return base > 0 ? Math.pow(base, exponent) : 0;
    }
}
