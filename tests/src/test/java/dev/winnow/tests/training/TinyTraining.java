package dev.winnow.tests.training;

import dev.winnow.engine.model.Architecture;
import dev.winnow.engine.model.LlamaConfig;
import dev.winnow.engine.training.ParameterLayout;

import java.util.SplittableRandom;

/** Tiny random models for the trainer's tests: a configuration and parameter values scaled so activations stay O(1). */
final class TinyTraining {
    private TinyTraining() {
    }

    /** dim 8, 2 heads sharing 1 KV head of width 4 (RoPE on all of it), FFN 12, vocabulary 11. */
    static LlamaConfig config(int layers) {
        return new LlamaConfig(64, 8, layers, 12, 2, 1, 4, 4, 10000f, 1e-5f, 11, Architecture.LLAMA, 1f, null);
    }

    /**
     * Random values for every tensor of {@code layout}: norms in [0.7, 1.3], the embedding in [-1, 1], matrices
     * uniform with variance 1/in, the module's projections N(0, moduleStd^2) and biases in [biasLow, biasHigh].
     */
    static float[] parameters(ParameterLayout layout, SplittableRandom random, double moduleStd, double biasLow,
                              double biasHigh) {
        float[] w = new float[layout.size()];
        for (ParameterLayout.Tensor t : layout.tensors()) {
            for (int i = 0; i < t.size(); i++) {
                double value;
                if (t.name().endsWith("dcp_bias")) {
                    value = biasLow + (biasHigh - biasLow) * random.nextDouble();
                } else if (t.group() == ParameterLayout.Group.MODULE) {
                    value = random.nextGaussian() * moduleStd;
                } else if (t.rows() == 1) {
                    value = 0.7 + 0.6 * random.nextDouble();
                } else if (t.name().equals("token_embd.weight")) {
                    value = random.nextDouble() * 2 - 1;
                } else {
                    value = (random.nextDouble() * 2 - 1) * Math.sqrt(3.0 / t.cols());
                }
                w[t.offset() + i] = (float) value;
            }
        }
        return w;
    }

    /** rows x vocab next-token distributions with all probabilities positive. */
    static float[] distributions(SplittableRandom random, int rows, int vocab) {
        float[] p = new float[rows * vocab];
        for (int t = 0; t < rows; t++) {
            double total = 0;
            for (int i = 0; i < vocab; i++) {
                p[t * vocab + i] = (float) Math.exp(2 * random.nextGaussian());
                total += p[t * vocab + i];
            }
            for (int i = 0; i < vocab; i++) {
                p[t * vocab + i] /= (float) total;
            }
        }
        return p;
    }
}
