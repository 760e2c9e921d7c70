package dev.winnow.engine.training;

import dev.winnow.tensors.VectorMath;

import java.util.Arrays;

/**
 * The operations of the training forward pass, each with its backward, in the spirit of llm.c's train_gpt2.c:
 * float arrays, one readable loop nest per operation, no autograd. Activations are stored token after token
 * ({@code rows x width}, from index 0); weights live in one flat parameter array and are addressed by offset,
 * each matrix row-major ({@code out x in}: ggml's shape [in, out]). Every backward <em>adds</em> into the
 * gradients it is given (so several consumers of one activation can share its gradient array), and a null
 * weight gradient means the weight is frozen. Scalar sums that feed a softmax run in double.
 */
public final class TrainingOps {
    /** The epsilon inside log(I + epsilon) of the attention mask (dcp.md section 4). */
    public static final double LOG_EPSILON = 1e-40;

    private TrainingOps() {
    }

    // ---- token embedding ----

    /** out[t] = table row tokens[t]. */
    public static void embed(float[] out, float[] table, int tableOff, int[] tokens, int rows, int dim) {
        for (int t = 0; t < rows; t++) {
            System.arraycopy(table, tableOff + tokens[t] * dim, out, t * dim, dim);
        }
    }

    /** dTable row tokens[t] += dOut[t]. */
    public static void embedBackward(float[] dTable, int tableOff, float[] dOut, int[] tokens, int rows, int dim) {
        for (int t = 0; t < rows; t++) {
            VectorMath.add(dTable, tableOff + tokens[t] * dim, dOut, t * dim, dim);
        }
    }

    // ---- matrix multiplication ----

    /** out (rows x outDim) = x (rows x in) times W^T, with W (outDim x in) at wOff. */
    public static void matmul(float[] out, float[] x, float[] w, int wOff, int rows, int in, int outDim) {
        for (int t = 0; t < rows; t++) {
            for (int o = 0; o < outDim; o++) {
                out[t * outDim + o] = VectorMath.dot(w, wOff + o * in, x, t * in, in);
            }
        }
    }

    /** dX += dOut W (when dX is not null) and dW += dOut^T x (when dW is not null). */
    public static void matmulBackward(float[] dX, float[] dW, int dwOff, float[] dOut, float[] x, float[] w, int wOff,
                                      int rows, int in, int outDim) {
        if (dX != null) {
            for (int t = 0; t < rows; t++) {
                for (int o = 0; o < outDim; o++) {
                    VectorMath.axpy(dOut[t * outDim + o], w, wOff + o * in, dX, t * in, in);
                }
            }
        }
        if (dW != null) {
            for (int o = 0; o < outDim; o++) {
                for (int t = 0; t < rows; t++) {
                    VectorMath.axpy(dOut[t * outDim + o], x, t * in, dW, dwOff + o * in, in);
                }
            }
        }
    }

    // ---- RMS normalisation ----

    /**
     * out[t] = x[t] * s[t] * weight with s[t] = 1 / sqrt(mean(x[t]^2) + eps), in the engine's arithmetic (the
     * sum of squares in double, the scale in float); s[t] goes to {@code inverseRms} for the backward.
     */
    public static void rmsNorm(float[] out, float[] inverseRms, float[] x, float[] w, int wOff, int rows, int dim,
                               float eps) {
        for (int t = 0; t < rows; t++) {
            float mean = (float) (VectorMath.sumOfSquares(x, t * dim, dim) / dim);
            float s = 1f / (float) Math.sqrt(mean + eps);
            inverseRms[t] = s;
            for (int i = 0; i < dim; i++) {
                out[t * dim + i] = x[t * dim + i] * s * w[wOff + i];
            }
        }
    }

    /** dX += d out / d x applied to dOut; dW += dOut * x * s (when dW is not null). */
    public static void rmsNormBackward(float[] dX, float[] dW, int dwOff, float[] dOut, float[] x, float[] inverseRms,
                                       float[] w, int wOff, int rows, int dim) {
        for (int t = 0; t < rows; t++) {
            double s = inverseRms[t];
            double weighted = 0;
            for (int i = 0; i < dim; i++) {
                weighted += (double) dOut[t * dim + i] * w[wOff + i] * x[t * dim + i];
            }
            double c = weighted * s * s * s / dim;
            for (int i = 0; i < dim; i++) {
                int at = t * dim + i;
                if (dX != null) {
                    dX[at] += (float) (dOut[at] * w[wOff + i] * s - c * x[at]);
                }
                if (dW != null) {
                    dW[dwOff + i] += (float) (dOut[at] * x[at] * s);
                }
            }
        }
    }

    // ---- SwiGLU ----

    /** out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)), as the engine computes it. */
    public static void swiglu(float[] out, float[] gate, float[] up, int n) {
        for (int i = 0; i < n; i++) {
            float g = gate[i];
            out[i] = g / (1f + (float) Math.exp(-g)) * up[i];
        }
    }

    /** dGate += dOut * up * silu'(gate); dUp += dOut * silu(gate). */
    public static void swigluBackward(float[] dGate, float[] dUp, float[] dOut, float[] gate, float[] up, int n) {
        for (int i = 0; i < n; i++) {
            double g = gate[i];
            double sigmoid = 1 / (1 + Math.exp(-g));
            double silu = g * sigmoid;
            dGate[i] += (float) (dOut[i] * up[i] * sigmoid * (1 + g * (1 - sigmoid)));
            dUp[i] += (float) (dOut[i] * silu);
        }
    }

    // ---- causal grouped-query attention with the DCP keep factors ----

    /** Doubles of scratch that {@link #attention} needs for {@code rows} tokens. */
    public static int attentionScratch(int rows, int headDim) {
        return rows + headDim;
    }

    /**
     * out = softmax(q k^T / sqrt(headDim) + log(keep + epsilon)) v for every query head, causally, where
     * keep[j * rows + k] is I[j, k] of dcp.md (k <= j; keep[j * rows + j] must be positive). A token with keep
     * exactly 0 is left out, as the inference cache leaves it out: its weight would be at most 1e-40 times that
     * of the query's own token, and it carries no gradient. Query head h reads key/value head h / (heads /
     * kvHeads). The weight of key k for query j is (I[j, k] + epsilon) e[j, k] with e = exp(score - logsumexp);
     * e goes to exps[(h * rows + j) * rows + k] for the backward (0 for keys left out).
     */
    public static void attention(float[] out, float[] exps, float[] q, float[] k, float[] v, float[] keep, int rows,
                                 int heads, int kvHeads, int headDim, double[] scratch) {
        int queryDim = heads * headDim;
        int kvDim = kvHeads * headDim;
        int group = heads / kvHeads;
        double scale = 1 / Math.sqrt(headDim);
        double[] scores = scratch;
        int acc = rows;
        for (int h = 0; h < heads; h++) {
            int kvHead = h / group;
            for (int j = 0; j < rows; j++) {
                int qOff = j * queryDim + h * headDim;
                int eOff = (h * rows + j) * rows;
                double max = Double.NEGATIVE_INFINITY;
                for (int t = 0; t <= j; t++) {
                    if (keep[j * rows + t] > 0) {
                        scores[t] = score(q, qOff, k, t * kvDim + kvHead * headDim, headDim) * scale;
                        max = Math.max(max, scores[t]);
                    }
                }
                double sum = 0;
                for (int t = 0; t <= j; t++) {
                    if (keep[j * rows + t] > 0) {
                        scores[t] = Math.exp(scores[t] - max);
                        sum += (keep[j * rows + t] + LOG_EPSILON) * scores[t];
                    }
                }
                Arrays.fill(scratch, acc, acc + headDim, 0);
                for (int t = 0; t <= j; t++) {
                    double keepFactor = keep[j * rows + t];
                    if (keepFactor > 0) {
                        double e = scores[t] / sum;
                        exps[eOff + t] = (float) e;
                        double a = (keepFactor + LOG_EPSILON) * e;
                        int vOff = t * kvDim + kvHead * headDim;
                        for (int i = 0; i < headDim; i++) {
                            scratch[acc + i] += a * v[vOff + i];
                        }
                    } else {
                        exps[eOff + t] = 0;
                    }
                }
                for (int i = 0; i < headDim; i++) {
                    out[qOff + i] = (float) scratch[acc + i];
                }
            }
        }
    }

    /**
     * The backward of {@link #attention}: dQ, dK, dV and dKeep (for k < j; null when the mask is not trained)
     * receive the gradients of dOut, from the e values the forward stored. With a = (I + eps) e the weight of a
     * key, the gradient reaching I is e times the usual softmax term, computed without dividing by I (which may
     * be 0).
     */
    public static void attentionBackward(float[] dQ, float[] dK, float[] dV, float[] dKeep, float[] dOut, float[] q,
                                         float[] k, float[] v, float[] keep, float[] exps, int rows, int heads,
                                         int kvHeads, int headDim, double[] scratch) {
        int queryDim = heads * headDim;
        int kvDim = kvHeads * headDim;
        int group = heads / kvHeads;
        double scale = 1 / Math.sqrt(headDim);
        double[] dWeights = scratch;
        for (int h = 0; h < heads; h++) {
            int kvHead = h / group;
            for (int j = 0; j < rows; j++) {
                int qOff = j * queryDim + h * headDim;
                int eOff = (h * rows + j) * rows;
                double weightedSum = 0;
                for (int t = 0; t <= j; t++) {
                    double keepFactor = keep[j * rows + t];
                    if (keepFactor > 0) {
                        double dWeight = score(dOut, qOff, v, t * kvDim + kvHead * headDim, headDim);
                        dWeights[t] = dWeight;
                        weightedSum += (keepFactor + LOG_EPSILON) * exps[eOff + t] * dWeight;
                    }
                }
                for (int t = 0; t <= j; t++) {
                    double keepFactor = keep[j * rows + t];
                    if (keepFactor > 0) {
                        int kvOff = t * kvDim + kvHead * headDim;
                        double e = exps[eOff + t];
                        double centered = dWeights[t] - weightedSum;
                        double a = (keepFactor + LOG_EPSILON) * e;
                        double dScore = a * centered * scale;
                        for (int i = 0; i < headDim; i++) {
                            dV[kvOff + i] += (float) (a * dOut[qOff + i]);
                            dQ[qOff + i] += (float) (dScore * k[kvOff + i]);
                            dK[kvOff + i] += (float) (dScore * q[qOff + i]);
                        }
                        if (dKeep != null && t < j) {
                            dKeep[j * rows + t] += (float) (e * centered);
                        }
                    }
                }
            }
        }
    }

    private static double score(float[] a, int aOff, float[] b, int bOff, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += (double) a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    // ---- the DCP keep factors: interaction scores, alpha-sigmoid, running product ----

    /**
     * The keep factors of one layer (dcp.md section 2): for k < j, s = dot(qi[j], ki[k]) / sqrt(r) + bias,
     * P[j, k] = sigma_alpha(s) (the step s > 0 when alpha is +infinity), and I[j, k] = P[k+1, k] ... P[j, k];
     * I[j, j] = P[j, j] = 1. Matrices are rows x rows, row j the query. Once I[j-1, k] is 0 the token is gone:
     * P[j, k] is not evaluated and both are stored as 0 (as the inference cache stops scoring a dropped token).
     * The score is computed as the engine's pruner computes it (float dot product, times 1/sqrt(r) in float,
     * plus the bias).
     *
     * @return the smallest |s| evaluated (infinity if none): how close the step function came to a different decision
     */
    public static double interactionMask(float[] gate, float[] keep, float[] qi, float[] ki, float bias, int rows,
                                         int rank, double alpha) {
        float inverseSqrtRank = (float) (1 / Math.sqrt(rank));
        double closest = Double.POSITIVE_INFINITY;
        for (int j = 0; j < rows; j++) {
            for (int t = 0; t < j; t++) {
                float above = j - 1 == t ? 1f : keep[(j - 1) * rows + t];
                if (above == 0) {
                    gate[j * rows + t] = 0;
                    keep[j * rows + t] = 0;
                    continue;
                }
                float s = VectorMath.dot(ki, t * rank, qi, j * rank, rank) * inverseSqrtRank + bias;
                closest = Math.min(closest, Math.abs(s));
                float p = (float) AlphaGate.value(alpha, s);
                gate[j * rows + t] = p;
                keep[j * rows + t] = above * p;
            }
            gate[j * rows + j] = 1;
            keep[j * rows + j] = 1;
        }
        return closest;
    }

    /**
     * The backward of {@link #interactionMask} for the gradient dKeep of I (entries k < j). The running product
     * is differentiated with suffix sums instead of divisions by P (which may be 0): for a key column k,
     * S[j] = dI[j, k] + P[j+1, k] S[j+1] and dP[j, k] = I[j-1, k] S[j]. Saturated gates carry no gradient.
     * dQi and dKi receive the gradients of the interaction queries and keys.
     *
     * @return the gradient of the bias
     */
    public static double interactionMaskBackward(float[] dQi, float[] dKi, float[] dKeep, float[] gate, float[] keep,
                                                 float[] qi, float[] ki, int rows, int rank, double alpha) {
        float inverseSqrtRank = (float) (1 / Math.sqrt(rank));
        double dBias = 0;
        for (int t = 0; t < rows - 1; t++) {
            double suffix = 0;
            for (int j = rows - 1; j > t; j--) {
                suffix = dKeep[j * rows + t] + (j + 1 < rows ? gate[(j + 1) * rows + t] * suffix : 0);
                double slope = AlphaGate.derivativeAtValue(alpha, gate[j * rows + t]);
                if (slope == 0) {
                    continue;
                }
                double above = j - 1 == t ? 1 : keep[(j - 1) * rows + t];
                double dScore = slope * above * suffix;
                dBias += dScore;
                float scaled = (float) (dScore * inverseSqrtRank);
                VectorMath.axpy(scaled, ki, t * rank, dQi, j * rank, rank);
                VectorMath.axpy(scaled, qi, j * rank, dKi, t * rank, rank);
            }
        }
        return dBias;
    }

    // ---- the language-model loss ----

    /**
     * The summed loss of {@code rows} positions: -log softmax(logits[t])[targets[t]], or, when {@code teacher}
     * is not null, the KL divergence sum_v q log(q / softmax(logits[t])_v) to the teacher's distribution q
     * (rows x vocab probabilities).
     */
    public static double loss(float[] logits, int rows, int vocab, int[] targets, float[] teacher) {
        double total = 0;
        for (int t = 0; t < rows; t++) {
            int off = t * vocab;
            double logSum = logSumExp(logits, off, vocab);
            if (teacher == null) {
                total += logSum - logits[off + targets[t]];
            } else {
                for (int i = 0; i < vocab; i++) {
                    double target = teacher[off + i];
                    if (target > 0) {
                        total += target * (Math.log(target) - (logits[off + i] - logSum));
                    }
                }
            }
        }
        return total;
    }

    /** Replaces the logits by scale times the gradient of {@link #loss}: scale (softmax - target). */
    public static void lossBackward(float[] logits, int rows, int vocab, int[] targets, float[] teacher, float scale) {
        for (int t = 0; t < rows; t++) {
            int off = t * vocab;
            double logSum = logSumExp(logits, off, vocab);
            for (int i = 0; i < vocab; i++) {
                double target = teacher != null ? teacher[off + i] : i == targets[t] ? 1 : 0;
                logits[off + i] = (float) (scale * (Math.exp(logits[off + i] - logSum) - target));
            }
        }
    }

    /** log sum_i exp(x[off + i]), in double. */
    public static double logSumExp(float[] x, int off, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(x[off + i] - max);
        }
        return max + Math.log(sum);
    }
}
