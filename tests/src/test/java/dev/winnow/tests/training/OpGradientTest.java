package dev.winnow.tests.training;

import dev.winnow.engine.model.Architecture;
import dev.winnow.engine.model.LlamaConfig;
import dev.winnow.engine.model.Rope;
import dev.winnow.engine.pruning.AlphaSigmoid;
import dev.winnow.engine.training.AlphaGate;
import dev.winnow.engine.training.TrainingOps;
import dev.winnow.tensors.VectorMath;
import net.jqwik.api.Assume;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;

import static dev.winnow.tests.training.FiniteDifferences.check;
import static dev.winnow.tests.training.FiniteDifferences.dot;
import static dev.winnow.tests.training.FiniteDifferences.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every operation's backward against central finite differences of its forward, on small random inputs. The
 * operations compute in float, so the finite differences use a step of 1e-3 and a tolerance of 2e-3 absolute
 * plus 2% relative (float rounding of the forward divided by the step, and the step's truncation error).
 * Each backward is given gradient arrays that already hold values, to check that it adds rather than overwrites.
 */
class OpGradientTest {
    private static final double STEP = 1e-3;
    private static final double ABSOLUTE = 2e-3;
    private static final double RELATIVE = 2e-2;

    @Property(tries = 40)
    void matmul(@ForAll @IntRange(min = 1, max = 4) int rows, @ForAll @IntRange(min = 1, max = 9) int in,
                @ForAll @IntRange(min = 1, max = 7) int out, @ForAll long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] x = uniform(random, rows * in, 1);
        float[] w = uniform(random, 3 + out * in, 1);
        float[] weights = uniform(random, rows * out, 1);
        float[] y = new float[rows * out];
        float[] dX = uniform(random, x.length, 1);
        float[] dW = uniform(random, w.length, 1);
        float[] dX0 = dX.clone();
        float[] dW0 = dW.clone();
        TrainingOps.matmulBackward(dX, dW, 3, weights, x, w, 3, rows, in, out);
        subtract(dX, dX0);
        subtract(dW, dW0);
        check("dX", x, dX, () -> {
            TrainingOps.matmul(y, x, w, 3, rows, in, out);
            return dot(y, weights);
        }, STEP, ABSOLUTE, RELATIVE);
        check("dW", w, dW, () -> {
            TrainingOps.matmul(y, x, w, 3, rows, in, out);
            return dot(y, weights);
        }, STEP, ABSOLUTE, RELATIVE);
    }

    @Property(tries = 40)
    void rmsNorm(@ForAll @IntRange(min = 1, max = 4) int rows, @ForAll @IntRange(min = 1, max = 12) int dim,
                 @ForAll long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        // Inputs of magnitude 0.5 to 1: near a row of zeros RMSNorm bends so sharply (x / |x| for one value) that a
        // float finite difference of step 1e-3 no longer measures its slope (seen: -1.75 analytic, -1.68 measured).
        float[] x = uniform(random, rows * dim, 1);
        for (int i = 0; i < x.length; i++) {
            x[i] = Math.copySign(0.5f + 0.5f * Math.abs(x[i]), x[i]);
        }
        float[] w = uniform(random, 2 + dim, 1);
        float[] weights = uniform(random, rows * dim, 1);
        float[] y = new float[rows * dim];
        float[] inverseRms = new float[rows];
        TrainingOps.rmsNorm(y, inverseRms, x, w, 2, rows, dim, 1e-5f);
        float[] dX = uniform(random, x.length, 1);
        float[] dW = uniform(random, w.length, 1);
        float[] dX0 = dX.clone();
        float[] dW0 = dW.clone();
        TrainingOps.rmsNormBackward(dX, dW, 2, weights, x, inverseRms, w, 2, rows, dim);
        subtract(dX, dX0);
        subtract(dW, dW0);
        float[] scratch = new float[rows];
        check("dX", x, dX, () -> {
            TrainingOps.rmsNorm(y, scratch, x, w, 2, rows, dim, 1e-5f);
            return dot(y, weights);
        }, STEP, ABSOLUTE, RELATIVE);
        check("dW", w, dW, () -> {
            TrainingOps.rmsNorm(y, scratch, x, w, 2, rows, dim, 1e-5f);
            return dot(y, weights);
        }, STEP, ABSOLUTE, RELATIVE);
    }

    /** The engine's RoPE, in both pair layouts, with a position scale and per-pair factors: its inverse turn is its backward. */
    @Property(tries = 30)
    void rope(@ForAll @IntRange(min = 1, max = 6) int rows, @ForAll @IntRange(min = 1, max = 3) int heads,
              @ForAll @IntRange(min = 1, max = 3) int halfHead, @ForAll boolean halves, @ForAll long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int headDim = 2 * halfHead;
        int pairs = 1 + random.nextInt(halfHead);
        float[] factors = uniform(random, pairs, 1);
        for (int i = 0; i < pairs; i++) {
            factors[i] = 1.5f + factors[i];
        }
        Rope rope = new Rope(new LlamaConfig(64, heads * headDim, 1, 4, heads, heads, headDim, 2 * pairs, 10000f, 1e-5f,
                11, halves ? Architecture.QWEN2 : Architecture.LLAMA, 2f, factors));
        float[] cos = new float[rows * pairs];
        float[] sin = new float[rows * pairs];
        for (int t = 0; t < rows; t++) {
            rope.angles(t, cos, sin, t * pairs);
        }
        float[] x = uniform(random, rows * heads * headDim, 1);
        float[] weights = uniform(random, x.length, 1);
        float[] dX = weights.clone();
        for (int t = 0; t < rows; t++) {
            rope.rotateBack(dX, t * heads * headDim, heads, cos, sin, t * pairs);
        }
        check("dX", x, dX, () -> {
            float[] y = x.clone();
            for (int t = 0; t < rows; t++) {
                rope.rotate(y, t * heads * headDim, heads, cos, sin, t * pairs);
            }
            return dot(y, weights);
        }, STEP, ABSOLUTE, RELATIVE);
    }

    @Property(tries = 30)
    void swiglu(@ForAll @IntRange(min = 1, max = 20) int n, @ForAll long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] gate = uniform(random, n, 4);
        float[] up = uniform(random, n, 2);
        float[] weights = uniform(random, n, 1);
        float[] y = new float[n];
        float[] dGate = uniform(random, n, 1);
        float[] dUp = uniform(random, n, 1);
        float[] dGate0 = dGate.clone();
        float[] dUp0 = dUp.clone();
        TrainingOps.swigluBackward(dGate, dUp, weights, gate, up, n);
        subtract(dGate, dGate0);
        subtract(dUp, dUp0);
        check("dGate", gate, dGate, () -> {
            TrainingOps.swiglu(y, gate, up, n);
            return dot(y, weights);
        }, STEP, ABSOLUTE, RELATIVE);
        check("dUp", up, dUp, () -> {
            TrainingOps.swiglu(y, gate, up, n);
            return dot(y, weights);
        }, STEP, ABSOLUTE, RELATIVE);
    }

    @Property(tries = 60)
    void attentionWithKeepFactors(@ForAll @IntRange(min = 1, max = 6) int rows,
                                  @ForAll @IntRange(min = 0, max = 2) int headsLog2,
                                  @ForAll @IntRange(min = 0, max = 2) int groupLog2,
                                  @ForAll @IntRange(min = 1, max = 4) int headDim, @ForAll long seed) {
        Assume.that(groupLog2 <= headsLog2);
        SplittableRandom random = new SplittableRandom(seed);
        int heads = 1 << headsLog2;
        int kvHeads = heads >> groupLog2;
        float[] q = uniform(random, rows * heads * headDim, 1.5);
        float[] k = uniform(random, rows * kvHeads * headDim, 1.5);
        float[] v = uniform(random, rows * kvHeads * headDim, 1);
        float[] keep = new float[rows * rows];
        for (int j = 0; j < rows; j++) {
            keep[j * rows + j] = 1;
            for (int t = 0; t < j; t++) {
                keep[j * rows + t] = random.nextInt(5) == 0 ? 0 : (float) (0.05 + 0.95 * random.nextDouble());
            }
        }
        float[] weights = uniform(random, rows * heads * headDim, 1);
        float[] out = new float[weights.length];
        float[] exps = new float[heads * rows * rows];
        double[] scratch = new double[TrainingOps.attentionScratch(rows, headDim)];
        TrainingOps.attention(out, exps, q, k, v, keep, rows, heads, kvHeads, headDim, scratch);
        float[] dQ = new float[q.length];
        float[] dK = new float[k.length];
        float[] dV = new float[v.length];
        float[] dKeep = new float[keep.length];
        TrainingOps.attentionBackward(dQ, dK, dV, dKeep, weights, q, k, v, keep, exps, rows, heads, kvHeads, headDim,
                scratch);
        DoubleSupplier loss = () -> {
            TrainingOps.attention(out, exps, q, k, v, keep, rows, heads, kvHeads, headDim, scratch);
            return dot(out, weights);
        };
        check("dQ", q, dQ, loss, STEP, ABSOLUTE, RELATIVE);
        check("dK", k, dK, loss, STEP, ABSOLUTE, RELATIVE);
        check("dV", v, dV, loss, STEP, ABSOLUTE, RELATIVE);
        // I[j, k] for earlier tokens still kept; 0 means left out, where the forward is not differentiable.
        check("dKeep", keep, dKeep, loss, STEP, ABSOLUTE, RELATIVE, i -> i % rows < i / rows && keep[i] > 0);
    }

    @Property(tries = 80)
    void interactionMaskAndRunningProduct(@ForAll @IntRange(min = 1, max = 7) int rows,
                                          @ForAll @IntRange(min = 1, max = 5) int rank,
                                          @ForAll @IntRange(min = 0, max = 4) int alphaChoice, @ForAll long seed) {
        double alpha = new double[] {1 + 1e-6, 1.5, 2, 3, 6}[alphaChoice];
        SplittableRandom random = new SplittableRandom(seed);
        float[] qi = uniform(random, rows * rank, 0.8);
        float[] ki = uniform(random, rows * rank, 0.8);
        float[] bias = {(float) (random.nextDouble() * 0.9 - 0.3)};
        // The alpha-sigmoid bends at +-1/(alpha-1): finite differences must not straddle a bend.
        double bound = alpha < 1.01 ? Double.POSITIVE_INFINITY : 1 / (alpha - 1);
        float inverseSqrtRank = (float) (1 / Math.sqrt(rank));
        for (int j = 0; j < rows; j++) {
            for (int t = 0; t < j; t++) {
                float s = VectorMath.dot(ki, t * rank, qi, j * rank, rank) * inverseSqrtRank + bias[0];
                Assume.that(Math.abs(Math.abs(s) - bound) > 0.02);
            }
        }
        float[] gate = new float[rows * rows];
        float[] keep = new float[rows * rows];
        float[] weights = uniform(random, rows * rows, 1);
        TrainingOps.interactionMask(gate, keep, qi, ki, bias[0], rows, rank, alpha);
        float[] dKeep = new float[rows * rows];
        for (int j = 0; j < rows; j++) {
            for (int t = 0; t < j; t++) {
                dKeep[j * rows + t] = weights[j * rows + t];
            }
        }
        float[] dQi = new float[qi.length];
        float[] dKi = new float[ki.length];
        float[] dBias = {(float) TrainingOps.interactionMaskBackward(dQi, dKi, dKeep, gate, keep, qi, ki, rows, rank, alpha)};
        DoubleSupplier loss = () -> {
            TrainingOps.interactionMask(gate, keep, qi, ki, bias[0], rows, rank, alpha);
            double sum = 0;
            for (int j = 0; j < rows; j++) {
                for (int t = 0; t < j; t++) {
                    sum += (double) keep[j * rows + t] * weights[j * rows + t];
                }
            }
            return sum;
        };
        check("dQi", qi, dQi, loss, STEP, ABSOLUTE, RELATIVE);
        check("dKi", ki, dKi, loss, STEP, ABSOLUTE, RELATIVE);
        check("dBias", bias, dBias, loss, STEP, ABSOLUTE, RELATIVE);
    }

    @Property(tries = 40)
    void crossEntropyAndKlDivergence(@ForAll @IntRange(min = 1, max = 4) int rows,
                                     @ForAll @IntRange(min = 2, max = 9) int vocab, @ForAll boolean distill,
                                     @ForAll long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] logits = uniform(random, rows * vocab, 3);
        int[] targets = random.ints(rows, 0, vocab).toArray();
        float[] teacher = null;
        if (distill) {
            teacher = new float[rows * vocab];
            for (int t = 0; t < rows; t++) {
                double total = 0;
                for (int i = 0; i < vocab; i++) {
                    // Some zero probabilities, never all.
                    boolean zero = i > 0 && random.nextInt(4) == 0;
                    teacher[t * vocab + i] = zero ? 0 : (float) (0.01 + random.nextDouble());
                    total += teacher[t * vocab + i];
                }
                for (int i = 0; i < vocab; i++) {
                    teacher[t * vocab + i] /= (float) total;
                }
            }
        }
        float[] given = teacher;
        float[] dLogits = logits.clone();
        TrainingOps.lossBackward(dLogits, rows, vocab, targets, given, 1f);
        check("dLogits", logits, dLogits, () -> TrainingOps.loss(logits, rows, vocab, targets, given), STEP, ABSOLUTE,
                RELATIVE);
    }

    @Property(tries = 20)
    void embedding(@ForAll @IntRange(min = 1, max = 6) int rows, @ForAll @IntRange(min = 1, max = 5) int dim,
                   @ForAll long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int vocab = 4;
        float[] table = uniform(random, 1 + vocab * dim, 1);
        int[] tokens = random.ints(rows, 0, vocab).toArray();
        float[] weights = uniform(random, rows * dim, 1);
        float[] out = new float[rows * dim];
        float[] dTable = new float[table.length];
        TrainingOps.embedBackward(dTable, 1, weights, tokens, rows, dim);
        check("dTable", table, dTable, () -> {
            TrainingOps.embed(out, table, 1, tokens, rows, dim);
            return dot(out, weights);
        }, STEP, ABSOLUTE, RELATIVE);
    }

    @Property(tries = 400)
    void alphaGateMatchesTheBisectionReference(@ForAll @DoubleRange(min = 1, max = 12) double alpha,
                                               @ForAll @DoubleRange(min = -3, max = 3) double x) {
        double value = AlphaGate.value(alpha, x);
        assertEquals(AlphaSigmoid.value(alpha, x), value, 1e-9, "value");
        double reference = AlphaSigmoid.derivative(alpha, x);
        assertEquals(reference, AlphaGate.derivativeAtValue(alpha, value), 1e-6 * Math.max(1, reference), "derivative");
    }

    @ParameterizedTest(name = "alpha {0}, x {1}")
    @CsvSource({"1.5, -1, 0.169281", "1.5, -0.3, 0.394532", "1.5, 0.7, 0.739788", "2, 0.7, 0.85",
            "4, 0.1, 0.69075", "4, 0.2, 0.84517", "8, 0.1, 0.95032", "8, -0.1, 0.04968", "8, 0.2, 1"})
    void alphaGateMatchesTheTestValuesOfDcpMd(double alpha, double x, double expected) {
        assertEquals(expected, AlphaGate.value(alpha, x), 6e-6);
    }

    @ParameterizedTest(name = "alpha {0}, x {1}")
    @CsvSource({"1.5, 0.1, 0.35289", "8, 0.02, 5.38575", "8, 0.1, 1.35760", "8, 0.3, 0"})
    void alphaGateDerivativeMatchesTheTestValuesOfDcpMd(double alpha, double x, double expected) {
        assertEquals(expected, AlphaGate.derivativeAtValue(alpha, AlphaGate.value(alpha, x)), 6e-5);
    }

    private static void subtract(float[] a, float[] b) {
        for (int i = 0; i < a.length; i++) {
            a[i] -= b[i];
        }
    }
}
