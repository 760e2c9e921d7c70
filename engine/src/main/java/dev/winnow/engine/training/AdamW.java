package dev.winnow.engine.training;

import dev.winnow.tensors.WorkerPool;

/**
 * AdamW (Loshchilov and Hutter) over a contiguous range of a parameter array: bias-corrected first and
 * second moments, and decoupled weight decay where {@code decays} says so. Every element is updated on its
 * own, so the result does not depend on how the range is split across threads.
 */
public final class AdamW {
    public static final float BETA1 = 0.9f;
    public static final float BETA2 = 0.999f;
    public static final float EPSILON = 1e-8f;

    private final float[] m;
    private final float[] v;
    private int t;

    /** Fresh moments for {@code size} parameters. */
    public AdamW(int size) {
        this(new float[size], new float[size], 0);
    }

    /** Restored moments after {@code t} updates (from a checkpoint). */
    public AdamW(float[] m, float[] v, int t) {
        if (m.length != v.length || t < 0) {
            throw new IllegalArgumentException("moments of %d and %d values after %d updates".formatted(m.length, v.length, t));
        }
        this.m = m;
        this.v = v;
        this.t = t;
    }

    /**
     * One update of params[offset + i] with gradient grad[gradOffset + i], for i below the optimizer's size.
     *
     * @param decays which parameters (indexed like grad) take weight decay
     */
    public void update(float[] params, int offset, float[] grad, int gradOffset, float learningRate, float weightDecay,
                       boolean[] decays, WorkerPool pool) {
        t++;
        float correction1 = (float) (1 - Math.pow(BETA1, t));
        float correction2 = (float) (1 - Math.pow(BETA2, t));
        pool.parallelFor(m.length, (start, end) -> {
            for (int i = start; i < end; i++) {
                float g = grad[gradOffset + i];
                m[i] = BETA1 * m[i] + (1 - BETA1) * g;
                v[i] = BETA2 * v[i] + (1 - BETA2) * g * g;
                float mHat = m[i] / correction1;
                float vHat = v[i] / correction2;
                float p = params[offset + i];
                float decay = decays[gradOffset + i] ? weightDecay * p : 0;
                params[offset + i] = p - learningRate * (mHat / ((float) Math.sqrt(vHat) + EPSILON) + decay);
            }
        });
    }

    /** Parameters this optimizer updates. */
    public int size() {
        return m.length;
    }

    public float[] firstMoments() {
        return m;
    }

    public float[] secondMoments() {
        return v;
    }

    /** Updates made so far. */
    public int updates() {
        return t;
    }
}
