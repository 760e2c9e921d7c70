package dev.winnow.engine.training;

import dev.winnow.engine.model.LlamaConfig;
import dev.winnow.engine.model.Rope;
import dev.winnow.tensors.VectorMath;

import java.util.Arrays;

import static dev.winnow.engine.training.TrainingOps.attention;
import static dev.winnow.engine.training.TrainingOps.attentionBackward;
import static dev.winnow.engine.training.TrainingOps.embed;
import static dev.winnow.engine.training.TrainingOps.embedBackward;
import static dev.winnow.engine.training.TrainingOps.interactionMask;
import static dev.winnow.engine.training.TrainingOps.interactionMaskBackward;
import static dev.winnow.engine.training.TrainingOps.matmul;
import static dev.winnow.engine.training.TrainingOps.matmulBackward;
import static dev.winnow.engine.training.TrainingOps.rmsNorm;
import static dev.winnow.engine.training.TrainingOps.rmsNormBackward;
import static dev.winnow.engine.training.TrainingOps.swiglu;
import static dev.winnow.engine.training.TrainingOps.swigluBackward;

/**
 * The forward and backward pass of a Llama model with the DCP mask over one sequence (one batch row), keeping
 * every activation the backward needs. The sequence starts at position 0. The loss is the language-model loss
 * summed over the positions (cross-entropy against the next tokens, or KL divergence to a teacher's
 * distributions); the sparsity term is the row's soft kept fraction: the mean over layers of the sum of
 * I[j, k] over all (query j, earlier token k) pairs divided by the number of such pairs, n(n-1)/2.
 *
 * <p>One pass belongs to one thread at a time; the parameters are only read, the gradients written are the
 * caller's (one array per batch row, so rows can run in parallel).
 */
public final class TrainingPass {
    /** What a forward pass measured. */
    public record Result(double lossSum, double keptFraction) {
    }

    private final ParameterLayout layout;
    private final LlamaConfig c;
    private final int maxRows;
    /** The engine's RoPE (scaling and frequency factors included), its angles for positions 0 .. maxRows-1. */
    private final Rope rope;
    private final float[] ropeCos;
    private final float[] ropeSin;

    private final float[][] xIn;
    private final float[][] xn;
    private final float[][] attentionRms;
    private final float[][] q;
    private final float[][] k;
    private final float[][] v;
    private final float[][] qi;
    private final float[][] ki;
    private final float[][] gate;
    private final float[][] keep;
    private final float[][] exps;
    private final float[][] attended;
    private final float[][] xMid;
    private final float[][] fn;
    private final float[][] ffnRms;
    private final float[][] ffnGate;
    private final float[][] ffnUp;
    private final float[][] hidden;
    private final float[] xOut;
    private final float[] outputRms;
    private final float[] outputIn;
    private final float[] logits;

    private final float[] dResidual;
    private final float[] dXn;
    private final float[] dQ;
    private final float[] dK;
    private final float[] dV;
    private final float[] dAttended;
    private final float[] dHidden;
    private final float[] dGate;
    private final float[] dUp;
    private final float[] dFn;
    private final float[] dQi;
    private final float[] dKi;
    private final float[] dKeep;
    private final double[] scratch;

    private int rows;
    private int[] tokens;
    private int[] targets;
    private float[] teacher;
    private double alpha;
    private double closestDecision;

    /** Buffers for sequences of up to {@code maxRows} tokens. */
    public TrainingPass(ParameterLayout layout, int maxRows) {
        if (maxRows < 1) {
            throw new IllegalArgumentException("a training sequence needs at least 1 token, got " + maxRows);
        }
        this.layout = layout;
        this.c = layout.config();
        this.maxRows = maxRows;
        this.rope = new Rope(c);
        ropeCos = new float[maxRows * rope.pairs()];
        ropeSin = new float[maxRows * rope.pairs()];
        for (int t = 0; t < maxRows; t++) {
            rope.angles(t, ropeCos, ropeSin, t * rope.pairs());
        }
        int n = maxRows;
        int L = c.layers();
        int d = c.dim();
        int r = layout.rank();
        xIn = new float[L][n * d];
        xn = new float[L][n * d];
        attentionRms = new float[L][n];
        q = new float[L][n * c.queryDim()];
        k = new float[L][n * c.kvDim()];
        v = new float[L][n * c.kvDim()];
        qi = new float[L][n * r];
        ki = new float[L][n * r];
        gate = new float[L][n * n];
        keep = new float[L][n * n];
        exps = new float[L][c.heads() * n * n];
        attended = new float[L][n * c.queryDim()];
        xMid = new float[L][n * d];
        fn = new float[L][n * d];
        ffnRms = new float[L][n];
        ffnGate = new float[L][n * c.ffnDim()];
        ffnUp = new float[L][n * c.ffnDim()];
        hidden = new float[L][n * c.ffnDim()];
        xOut = new float[n * d];
        outputRms = new float[n];
        outputIn = new float[n * d];
        logits = new float[n * c.vocabularySize()];
        dResidual = new float[n * d];
        dXn = new float[n * d];
        dQ = new float[n * c.queryDim()];
        dK = new float[n * c.kvDim()];
        dV = new float[n * c.kvDim()];
        dAttended = new float[n * c.queryDim()];
        dHidden = new float[n * c.ffnDim()];
        dGate = new float[n * c.ffnDim()];
        dUp = new float[n * c.ffnDim()];
        dFn = new float[n * d];
        dQi = new float[n * r];
        dKi = new float[n * r];
        dKeep = new float[n * n];
        scratch = new double[TrainingOps.attentionScratch(n, c.headDim())];
    }

    public ParameterLayout layout() {
        return layout;
    }

    /** The longest sequence this pass holds. */
    public int maxRows() {
        return maxRows;
    }

    /**
     * Runs the model over {@code tokens} with the keep factors of alpha ({@code +infinity}: the step function
     * of inference) and measures the loss against {@code targets} (next tokens) or, when {@code teacher} is not
     * null, the KL divergence to its distributions (rows x vocabulary).
     */
    public Result forward(float[] w, int[] tokens, int[] targets, float[] teacher, double alpha) {
        int n = tokens.length;
        if (n < 1 || n > maxRows) {
            throw new IllegalArgumentException("a sequence of %d tokens; this pass holds 1 to %d".formatted(n, maxRows));
        }
        checkTokens("token", tokens, n);
        if (teacher != null ? teacher.length != n * c.vocabularySize() : targets == null) {
            throw new IllegalArgumentException("a sequence of %d tokens needs %d targets or %d x %d teacher probabilities"
                    .formatted(n, n, n, c.vocabularySize()));
        }
        if (teacher == null) {
            checkTokens("target", targets, n);
        }
        this.rows = n;
        this.tokens = tokens;
        this.targets = targets;
        this.teacher = teacher;
        this.alpha = alpha;
        this.closestDecision = Double.POSITIVE_INFINITY;
        int d = c.dim();
        int r = layout.rank();
        double kept = 0;
        embed(xIn[0], w, layout.tokenEmbedding(), tokens, n, d);
        for (int l = 0; l < c.layers(); l++) {
            ParameterLayout.Layer o = layout.layer(l);
            rmsNorm(xn[l], attentionRms[l], xIn[l], w, o.attentionNorm(), n, d, c.normEps());
            matmul(q[l], xn[l], w, o.wq(), n, d, c.queryDim());
            matmul(k[l], xn[l], w, o.wk(), n, d, c.kvDim());
            matmul(v[l], xn[l], w, o.wv(), n, d, c.kvDim());
            rotateRows(q[l], n, c.heads(), false);
            rotateRows(k[l], n, c.kvHeads(), false);
            matmul(qi[l], xn[l], w, o.interactionQuery(), n, d, r);
            matmul(ki[l], xn[l], w, o.interactionKey(), n, d, r);
            closestDecision = Math.min(closestDecision,
                    interactionMask(gate[l], keep[l], qi[l], ki[l], w[o.bias()], n, r, alpha));
            kept += keptPairs(keep[l], n);
            attention(attended[l], exps[l], q[l], k[l], v[l], keep[l], n, c.heads(), c.kvHeads(), c.headDim(), scratch);
            matmul(xMid[l], attended[l], w, o.wo(), n, c.queryDim(), d);
            VectorMath.add(xMid[l], 0, xIn[l], 0, n * d);
            rmsNorm(fn[l], ffnRms[l], xMid[l], w, o.ffnNorm(), n, d, c.normEps());
            matmul(ffnGate[l], fn[l], w, o.gate(), n, d, c.ffnDim());
            matmul(ffnUp[l], fn[l], w, o.up(), n, d, c.ffnDim());
            swiglu(hidden[l], ffnGate[l], ffnUp[l], n * c.ffnDim());
            float[] next = l + 1 < c.layers() ? xIn[l + 1] : xOut;
            matmul(next, hidden[l], w, o.down(), n, c.ffnDim(), d);
            VectorMath.add(next, 0, xMid[l], 0, n * d);
        }
        rmsNorm(outputIn, outputRms, xOut, w, layout.outputNorm(), n, d, c.normEps());
        matmul(logits, outputIn, w, layout.output(), n, d, c.vocabularySize());
        double loss = TrainingOps.loss(logits, n, c.vocabularySize(), targets, teacher);
        double keptFraction = n > 1 ? kept / c.layers() / pairCount(n) : 1;
        return new Result(loss, keptFraction);
    }

    private void checkTokens(String what, int[] ids, int n) {
        if (ids.length != n) {
            throw new IllegalArgumentException("%d %ss for a sequence of %d tokens".formatted(ids.length, what, n));
        }
        for (int id : ids) {
            if (id < 0 || id >= c.vocabularySize()) {
                throw new IllegalArgumentException("%s id %d is outside the vocabulary (0..%d)"
                        .formatted(what, id, c.vocabularySize() - 1));
            }
        }
    }

    private static double keptPairs(float[] keep, int n) {
        double sum = 0;
        for (int j = 1; j < n; j++) {
            for (int t = 0; t < j; t++) {
                sum += keep[j * n + t];
            }
        }
        return sum;
    }

    private static double pairCount(int n) {
        return n * (n - 1) / 2.0;
    }

    /** The logits of the last forward pass, rows x vocabulary (overwritten by {@link #backward}). */
    public float[] logits() {
        return logits;
    }

    /** The smallest |interaction score| the last forward evaluated: the margin of its hard decisions. */
    public double closestDecision() {
        return closestDecision;
    }

    /**
     * Adds to {@code grad} the gradient of lossScale * lossSum + keptScale * keptFraction of the last forward.
     *
     * @param trainBase false: only the pruning module's gradients are computed (the base is frozen)
     */
    public void backward(float[] w, float[] grad, boolean trainBase, float lossScale, float keptScale) {
        int n = rows;
        if (tokens == null) {
            throw new IllegalStateException("backward before forward");
        }
        int d = c.dim();
        int r = layout.rank();
        int f = c.ffnDim();
        float[] baseGrad = trainBase ? grad : null;
        TrainingOps.lossBackward(logits, n, c.vocabularySize(), targets, teacher, lossScale);
        Arrays.fill(dFn, 0, n * d, 0);
        matmulBackward(dFn, baseGrad, layout.output(), logits, outputIn, w, layout.output(), n, d, c.vocabularySize());
        Arrays.fill(dResidual, 0, n * d, 0);
        rmsNormBackward(dResidual, baseGrad, layout.outputNorm(), dFn, xOut, outputRms, w, layout.outputNorm(), n, d);
        float keptPerPair = n > 1 ? (float) (keptScale / c.layers() / pairCount(n)) : 0;
        for (int l = c.layers() - 1; l >= 0; l--) {
            ParameterLayout.Layer o = layout.layer(l);
            // Feed-forward block: out = xMid + down(swiglu(gate(fn), up(fn))), fn = rmsNorm(xMid).
            Arrays.fill(dHidden, 0, n * f, 0);
            matmulBackward(dHidden, baseGrad, o.down(), dResidual, hidden[l], w, o.down(), n, f, d);
            Arrays.fill(dGate, 0, n * f, 0);
            Arrays.fill(dUp, 0, n * f, 0);
            swigluBackward(dGate, dUp, dHidden, ffnGate[l], ffnUp[l], n * f);
            Arrays.fill(dFn, 0, n * d, 0);
            matmulBackward(dFn, baseGrad, o.gate(), dGate, fn[l], w, o.gate(), n, d, f);
            matmulBackward(dFn, baseGrad, o.up(), dUp, fn[l], w, o.up(), n, d, f);
            rmsNormBackward(dResidual, baseGrad, o.ffnNorm(), dFn, xMid[l], ffnRms[l], w, o.ffnNorm(), n, d);

            // Attention block: xMid = x + wo(attention(q, k, v, I)), with q, k, v, qi, ki read from xn = rmsNorm(x).
            Arrays.fill(dAttended, 0, n * c.queryDim(), 0);
            matmulBackward(dAttended, baseGrad, o.wo(), dResidual, attended[l], w, o.wo(), n, c.queryDim(), d);
            Arrays.fill(dQ, 0, n * c.queryDim(), 0);
            Arrays.fill(dK, 0, n * c.kvDim(), 0);
            Arrays.fill(dV, 0, n * c.kvDim(), 0);
            Arrays.fill(dKeep, 0, n * n, 0);
            attentionBackward(dQ, dK, dV, dKeep, dAttended, q[l], k[l], v[l], keep[l], exps[l], n, c.heads(),
                    c.kvHeads(), c.headDim(), scratch);
            if (keptPerPair != 0) {
                for (int j = 1; j < n; j++) {
                    for (int t = 0; t < j; t++) {
                        dKeep[j * n + t] += keptPerPair;
                    }
                }
            }
            Arrays.fill(dQi, 0, n * r, 0);
            Arrays.fill(dKi, 0, n * r, 0);
            grad[o.bias()] += (float) interactionMaskBackward(dQi, dKi, dKeep, gate[l], keep[l], qi[l], ki[l], n, r, alpha);
            Arrays.fill(dXn, 0, n * d, 0);
            matmulBackward(dXn, grad, o.interactionQuery(), dQi, xn[l], w, o.interactionQuery(), n, d, r);
            matmulBackward(dXn, grad, o.interactionKey(), dKi, xn[l], w, o.interactionKey(), n, d, r);
            rotateRows(dQ, n, c.heads(), true);
            rotateRows(dK, n, c.kvHeads(), true);
            matmulBackward(dXn, baseGrad, o.wq(), dQ, xn[l], w, o.wq(), n, d, c.queryDim());
            matmulBackward(dXn, baseGrad, o.wk(), dK, xn[l], w, o.wk(), n, d, c.kvDim());
            matmulBackward(dXn, baseGrad, o.wv(), dV, xn[l], w, o.wv(), n, d, c.kvDim());
            if (trainBase || l > 0) {
                rmsNormBackward(dResidual, baseGrad, o.attentionNorm(), dXn, xIn[l], attentionRms[l], w,
                        o.attentionNorm(), n, d);
            }
        }
        if (trainBase) {
            embedBackward(grad, layout.tokenEmbedding(), dResidual, tokens, n, d);
        }
    }

    /** RoPE over each of n rows of {@code heads} heads at its position, or, {@code back}, its gradient's inverse turn. */
    private void rotateRows(float[] x, int n, int heads, boolean back) {
        int width = heads * c.headDim();
        for (int t = 0; t < n; t++) {
            if (back) {
                rope.rotateBack(x, t * width, heads, ropeCos, ropeSin, t * rope.pairs());
            } else {
                rope.rotate(x, t * width, heads, ropeCos, ropeSin, t * rope.pairs());
            }
        }
    }
}
