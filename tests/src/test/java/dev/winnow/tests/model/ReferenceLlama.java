package dev.winnow.tests.model;

import dev.winnow.engine.model.Architecture;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * A deliberately plain double-precision Llama forward pass, written from the equations and sharing no code with
 * the engine: the independent reference the engine's logits are checked against. Recomputes attention over
 * every token still alive at every step; a {@link ReferencePruning} restates a pruning policy's definition.
 */
public final class ReferenceLlama {
    private final TinyLlama m;
    private final List<double[][]> keys = new ArrayList<>();
    private final List<double[][]> values = new ArrayList<>();
    private final List<TreeSet<Integer>> alive = new ArrayList<>();
    private final ReferencePruning pruning;

    /**
     * Decides, per layer and step, which tokens the reference still attends to: a plain restatement of a
     * pruning policy's definition.
     */
    public interface ReferencePruning {
        /** Before the attention of step {@code step}: may remove tokens from {@code alive} (which holds the step itself). */
        default void beforeAttention(int layer, int step, double[] normalized, TreeSet<Integer> alive) {
        }

        /** After it, with the weight each alive token got from this step's query, averaged over heads. */
        default void afterAttention(int layer, int step, Map<Integer, Double> weights, TreeSet<Integer> alive) {
        }
    }

    public ReferenceLlama(TinyLlama model) {
        this(model, new ReferencePruning() {
        });
    }

    public ReferenceLlama(TinyLlama model, ReferencePruning pruning) {
        this.m = model;
        this.pruning = pruning;
        for (int l = 0; l < model.layers(); l++) {
            keys.add(new double[model.context()][]);
            values.add(new double[model.context()][]);
            alive.add(new TreeSet<>());
        }
    }

    /** The positions a layer still attends to. */
    public TreeSet<Integer> alive(int layer) {
        return alive.get(layer);
    }

    /** Logits after feeding {@code token} at {@code position} (positions must be fed in order from 0). */
    public double[] forward(int token, int position) {
        int dim = m.dim();
        int headDim = m.headDim();
        double[] x = row(m.tensors().get("token_embd.weight"), token, dim);
        if (m.architecture().has(Architecture.Feature.GPT2_BLOCKS)) {
            add(x, row(m.tensors().get("position_embd.weight"), position, dim));
        }
        for (int l = 0; l < m.layers(); l++) {
            String p = "blk." + l + ".";
            double[] h = norm(x, p + "attn_norm");
            double[] q = matVec(m.tensors().get(p + "attn_q.weight"), h, m.heads() * headDim);
            double[] k = matVec(m.tensors().get(p + "attn_k.weight"), h, m.kvHeads() * headDim);
            double[] v = matVec(m.tensors().get(p + "attn_v.weight"), h, m.kvHeads() * headDim);
            if (m.architecture().has(Architecture.Feature.QKV_BIAS)) {
                add(q, toDouble(m.tensors().get(p + "attn_q.bias")));
                add(k, toDouble(m.tensors().get(p + "attn_k.bias")));
                add(v, toDouble(m.tensors().get(p + "attn_v.bias")));
            }
            if (m.architecture().has(Architecture.Feature.QK_NORM)) {
                normalizeHeads(q, m.tensors().get(p + "attn_q_norm.weight"));
                normalizeHeads(k, m.tensors().get(p + "attn_k_norm.weight"));
            }
            rope(q, m.heads(), position);
            rope(k, m.kvHeads(), position);
            keys.get(l)[position] = k;
            values.get(l)[position] = v;
            TreeSet<Integer> visible = alive.get(l);
            visible.add(position);
            pruning.beforeAttention(l, position, h, visible);
            double[] attention = new double[m.heads() * headDim];
            Map<Integer, Double> weights = new HashMap<>();
            for (int head = 0; head < m.heads(); head++) {
                int kvHead = head / (m.heads() / m.kvHeads());
                double[] scores = new double[position + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int t : visible) {
                    double s = 0;
                    for (int i = 0; i < headDim; i++) {
                        s += q[head * headDim + i] * keys.get(l)[t][kvHead * headDim + i];
                    }
                    scores[t] = s / Math.sqrt(headDim);
                    max = Math.max(max, scores[t]);
                }
                double sum = 0;
                for (int t : visible) {
                    scores[t] = Math.exp(scores[t] - max);
                    sum += scores[t];
                }
                for (int t : visible) {
                    weights.merge(t, scores[t] / sum / m.heads(), Double::sum);
                    for (int i = 0; i < headDim; i++) {
                        attention[head * headDim + i] += scores[t] / sum * values.get(l)[t][kvHead * headDim + i];
                    }
                }
            }
            pruning.afterAttention(l, position, weights, visible);
            double[] projected = matVec(m.tensors().get(p + "attn_output.weight"), attention, dim);
            if (m.architecture().has(Architecture.Feature.GPT2_BLOCKS)) {
                add(projected, toDouble(m.tensors().get(p + "attn_output.bias")));
            }
            add(x, projected);
            double[] f = norm(x, p + "ffn_norm");
            double[] hidden;
            if (m.architecture().has(Architecture.Feature.GPT2_BLOCKS)) {
                hidden = matVec(m.tensors().get(p + "ffn_up.weight"), f, m.ffnDim());
                add(hidden, toDouble(m.tensors().get(p + "ffn_up.bias")));
                for (int i = 0; i < hidden.length; i++) {
                    double u = hidden[i];
                    hidden[i] = 0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u * u * u)));
                }
            } else {
                hidden = matVec(m.tensors().get(p + "ffn_gate.weight"), f, m.ffnDim());
                double[] up = matVec(m.tensors().get(p + "ffn_up.weight"), f, m.ffnDim());
                for (int i = 0; i < hidden.length; i++) {
                    hidden[i] = hidden[i] / (1 + Math.exp(-hidden[i])) * up[i];
                }
            }
            double[] down = matVec(m.tensors().get(p + "ffn_down.weight"), hidden, dim);
            if (m.architecture().has(Architecture.Feature.GPT2_BLOCKS)) {
                add(down, toDouble(m.tensors().get(p + "ffn_down.bias")));
            }
            add(x, down);
        }
        double[] out = norm(x, "output_norm");
        float[] output = m.tied() ? m.tensors().get("token_embd.weight") : m.tensors().get("output.weight");
        return matVec(output, out, m.vocab());
    }

    /** RMSNorm, or LayerNorm (mean and variance, then weight and bias) for GPT-2, by tensor name prefix. */
    private double[] norm(double[] x, String name) {
        if (!m.architecture().has(Architecture.Feature.LAYER_NORM)) {
            return rmsNorm(x, m.tensors().get(name + ".weight"));
        }
        double mean = 0;
        for (double v : x) {
            mean += v / x.length;
        }
        double variance = 0;
        for (double v : x) {
            variance += (v - mean) * (v - mean) / x.length;
        }
        float[] weight = m.tensors().get(name + ".weight");
        float[] bias = m.tensors().get(name + ".bias");
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = (x[i] - mean) / Math.sqrt(variance + m.eps()) * weight[i] + bias[i];
        }
        return out;
    }

    private void rope(double[] vector, int heads, int position) {
        if (m.architecture().rope() == Architecture.RopeStyle.NONE) {
            return;
        }
        int headDim = m.headDim();
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < m.ropeDim() / 2; i++) {
                float[] factors = m.tensors().get("rope_freqs.weight");
                double theta = position / (double) m.ropeLinearScale() * Math.pow(m.ropeBase(), -2.0 * i / m.ropeDim())
                        / (factors == null ? 1 : factors[i]);
                // Llama's GGUF layout rotates (2i, 2i+1); the NeoX layout of Qwen and Phi-3 rotates (i, i + ropeDim/2).
                boolean adjacent = m.architecture().rope() == Architecture.RopeStyle.ADJACENT;
                int j = h * headDim + (adjacent ? 2 * i : i);
                int partner = adjacent ? j + 1 : j + m.ropeDim() / 2;
                double a = vector[j];
                double b = vector[partner];
                vector[j] = a * Math.cos(theta) - b * Math.sin(theta);
                vector[partner] = a * Math.sin(theta) + b * Math.cos(theta);
            }
        }
    }

    /** Qwen3: every head vector of {@code x} RMS-normalised with {@code weight}. */
    private void normalizeHeads(double[] x, float[] weight) {
        int headDim = m.headDim();
        for (int start = 0; start < x.length; start += headDim) {
            double[] head = java.util.Arrays.copyOfRange(x, start, start + headDim);
            System.arraycopy(rmsNorm(head, weight), 0, x, start, headDim);
        }
    }

    private static double[] toDouble(float[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }

    private double[] rmsNorm(double[] x, float[] weight) {
        double ss = 0;
        for (double v : x) {
            ss += v * v;
        }
        double scale = 1 / Math.sqrt(ss / x.length + m.eps());
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] * scale * weight[i];
        }
        return out;
    }

    /** Row-major matrix of {@code rows} rows, each {@code x.length} long (ggml's [cols, rows]). */
    private static double[] matVec(float[] w, double[] x, int rows) {
        double[] out = new double[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int c = 0; c < x.length; c++) {
                s += w[r * x.length + c] * x[c];
            }
            out[r] = s;
        }
        return out;
    }

    private static double[] row(float[] w, int r, int cols) {
        double[] out = new double[cols];
        for (int c = 0; c < cols; c++) {
            out[c] = w[r * cols + c];
        }
        return out;
    }

    private static void add(double[] x, double[] y) {
        for (int i = 0; i < x.length; i++) {
            x[i] += y[i];
        }
    }
}
