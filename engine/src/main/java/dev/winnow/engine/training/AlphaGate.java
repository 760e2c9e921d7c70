package dev.winnow.engine.training;

/**
 * The alpha-sigmoid of dcp.md section 3, fast enough to evaluate for every (query, key) pair of every layer at
 * every training step. With a = alpha - 1 and p = sigma_alpha(x) strictly between 0 and 1, the two components of
 * alpha-entmax([x, 0]) are p = (a x - tau)^(1/a) and 1 - p = (-tau)^(1/a), so x = g(p) = (p^a - (1-p)^a) / a:
 * sigma_alpha is the inverse of g. It is found with Newton's method on g, kept inside a shrinking bracket
 * (bisection when a Newton step leaves it), which converges in a handful of iterations where the bisection of
 * {@code dev.winnow.engine.pruning.AlphaSigmoid} needs eighty. The derivative follows from the value alone:
 * 1 / g'(p) = 1 / (p^(alpha-2) + (1-p)^(alpha-2)), which is the s1 s2 / (s1 + s2) of dcp.md.
 *
 * <p>{@code alpha = +infinity} is the step function of inference: 1 for x > 0, else 0.
 */
public final class AlphaGate {
    /** Below this distance from 1, alpha is treated as 1 (the logistic sigmoid): g is ill-conditioned there. */
    static final double LOGISTIC_LIMIT = 1e-3;
    private static final int MAX_ITERATIONS = 60;

    private AlphaGate() {
    }

    /** sigma_alpha(x), for alpha >= 1 or +infinity. */
    public static double value(double alpha, double x) {
        if (alpha == Double.POSITIVE_INFINITY) {
            return x > 0 ? 1 : 0;
        }
        if (!(alpha >= 1)) {
            throw new IllegalArgumentException("alpha must be at least 1, got " + alpha);
        }
        if (alpha - 1 < LOGISTIC_LIMIT) {
            return 1 / (1 + Math.exp(-x));
        }
        double a = alpha - 1;
        double bound = 1 / a;
        if (x >= bound) {
            return 1;
        }
        if (x <= -bound) {
            return 0;
        }
        // sigma(-x) = 1 - sigma(x): solve g(p) = |x| on [1/2, 1), starting from the straight line between the
        // two known points g(1/2) = 0 and g(1) = 1/a.
        double y = Math.abs(x);
        double low = 0.5;
        double high = 1;
        double p = 0.5 + 0.5 * y * a;
        for (int i = 0; i < MAX_ITERATIONS; i++) {
            double pPow = Math.pow(p, a - 1);
            double qPow = Math.pow(1 - p, a - 1);
            double residual = (p * pPow - (1 - p) * qPow) / a - y;
            if (residual == 0) {
                break;
            }
            if (residual > 0) {
                high = p;
            } else {
                low = p;
            }
            double next = p - residual / (pPow + qPow);
            if (!(next > low && next < high)) {
                next = 0.5 * (low + high);
            }
            if (Math.abs(next - p) <= 1e-15) {
                p = next;
                break;
            }
            p = next;
        }
        return x < 0 ? 1 - p : p;
    }

    /** d sigma_alpha / dx at a point where sigma_alpha is {@code p}: 0 where saturated (p = 0 or 1). */
    public static double derivativeAtValue(double alpha, double p) {
        if (!(p > 0 && p < 1) || alpha == Double.POSITIVE_INFINITY) {
            return 0;
        }
        if (alpha - 1 < LOGISTIC_LIMIT) {
            return p * (1 - p);
        }
        return 1 / (Math.pow(p, alpha - 2) + Math.pow(1 - p, alpha - 2));
    }
}
