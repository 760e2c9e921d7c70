package dev.winnow.engine.model;

import dev.winnow.engine.kv.KvCache;
import dev.winnow.engine.pruning.Pruner;
import dev.winnow.tensors.VectorMath;
import dev.winnow.tensors.WorkerPool;

/**
 * The Llama forward pass, top to bottom, for a block of consecutive tokens (a prompt chunk, or the one token of
 * a decode step): embedding, then per block RMSNorm, Q/K/V projections, RoPE, causal attention through the KV
 * cache, output projection and residual, RMSNorm, SwiGLU feed-forward and residual; then the final norm and the
 * output matrix for the last token. Activations are stored token after token ({@code count x width}).
 */
public final class LlamaModel {
    /** Tokens processed together when a prompt is read: each weight row is then reused for all of them. */
    public static final int DEFAULT_BLOCK = 32;

    private final LlamaConfig config;
    private final LlamaWeights weights;
    /** RoPE frequency of each rotated pair: base^(-2i/ropeDim). */
    private final float[] ropeFrequencies;

    public LlamaModel(LlamaConfig config, LlamaWeights weights) {
        this.config = config;
        this.weights = weights;
        this.ropeFrequencies = new float[config.ropeDim() / 2];
        for (int i = 0; i < ropeFrequencies.length; i++) {
            ropeFrequencies[i] = (float) (1.0 / Math.pow(config.ropeBase(), (2.0 * i) / config.ropeDim()));
        }
    }

    public LlamaConfig config() {
        return config;
    }

    public LlamaWeights weights() {
        return weights;
    }

    /** Scratch buffers for blocks of up to {@code blockSize} tokens, allocated once so decoding allocates nothing. */
    public State newState(int blockSize) {
        return new State(config, blockSize);
    }

    /** The activations of one block of tokens. */
    public static final class State {
        final int blockSize;
        final float[] x;
        final float[] xb;
        final float[] q;
        final float[] k;
        final float[] v;
        final float[] attention;
        final float[] hidden;
        final float[] hiddenUp;
        final float[] ropeCos;
        final float[] ropeSin;
        final float[] logits;

        State(LlamaConfig c, int blockSize) {
            if (blockSize < 1) {
                throw new IllegalArgumentException("block size must be positive, got " + blockSize);
            }
            this.blockSize = blockSize;
            x = new float[blockSize * c.dim()];
            xb = new float[blockSize * Math.max(c.dim(), c.queryDim())];
            q = new float[blockSize * c.queryDim()];
            k = new float[blockSize * c.kvDim()];
            v = new float[blockSize * c.kvDim()];
            attention = new float[blockSize * c.queryDim()];
            hidden = new float[blockSize * c.ffnDim()];
            hiddenUp = new float[blockSize * c.ffnDim()];
            ropeCos = new float[c.ropeDim() / 2];
            ropeSin = new float[c.ropeDim() / 2];
            logits = new float[c.vocabularySize()];
        }

        public int blockSize() {
            return blockSize;
        }
    }

    /**
     * Runs {@code count} tokens from {@code tokens[offset]} at positions {@code firstPosition ..}, storing their
     * keys and values in {@code cache}; {@code pruner} decides, layer by layer, which cached tokens the block's
     * queries still see and which leave the cache.
     *
     * @param computeLogits false for prompt blocks whose next-token distribution nobody reads
     * @return the logits after the last token (inside {@code s}, valid until the next call), or null
     */
    public float[] forward(int[] tokens, int offset, int count, int firstPosition, State s, KvCache cache,
                           Pruner pruner, WorkerPool pool, boolean computeLogits) {
        LlamaConfig c = config;
        if (count < 1 || count > s.blockSize) {
            throw new IllegalArgumentException("a block holds 1 to %d tokens, got %d".formatted(s.blockSize, count));
        }
        int dim = c.dim();
        for (int i = 0; i < count; i++) {
            int token = tokens[offset + i];
            if (token < 0 || token >= c.vocabularySize()) {
                throw new IllegalArgumentException("token id %d is outside the vocabulary (0..%d)"
                        .formatted(token, c.vocabularySize() - 1));
            }
            weights.tokenEmbedding().dequantizeRow(token, s.x, i * dim);
        }

        for (int l = 0; l < c.layers(); l++) {
            LlamaWeights.Layer w = weights.layers()[l];

            rmsNormRows(s.xb, s.x, w.attentionNorm(), count);
            w.wq().matMul(s.xb, s.q, count, pool);
            w.wk().matMul(s.xb, s.k, count, pool);
            w.wv().matMul(s.xb, s.v, count, pool);
            for (int i = 0; i < count; i++) {
                computeRopeAngles(firstPosition + i, s);
                rotate(s.q, i * c.queryDim(), c.heads(), s);
                rotate(s.k, i * c.kvDim(), c.kvHeads(), s);
            }
            cache.store(l, firstPosition, count, s.k, s.v);
            pruner.beforeAttention(l, s.xb, firstPosition, count, pool);
            cache.attend(l, s.q, s.attention, firstPosition, count, pool, pruner.attentionWeights(l, firstPosition, count));
            pruner.afterAttention(l, firstPosition, count);
            w.wo().matMul(s.attention, s.xb, count, pool);
            VectorMath.add(s.x, 0, s.xb, 0, count * dim);

            rmsNormRows(s.xb, s.x, w.ffnNorm(), count);
            w.gate().matMul(s.xb, s.hidden, count, pool);
            w.up().matMul(s.xb, s.hiddenUp, count, pool);
            VectorMath.swiglu(s.hidden, s.hiddenUp, count * c.ffnDim());
            w.down().matMul(s.hidden, s.xb, count, pool);
            VectorMath.add(s.x, 0, s.xb, 0, count * dim);
        }

        if (!computeLogits) {
            return null;
        }
        int last = (count - 1) * dim;
        VectorMath.rmsNorm(s.xb, 0, s.x, last, weights.outputNorm(), dim, c.normEps());
        weights.output().matVec(s.xb, s.logits, pool);
        return s.logits;
    }

    private void rmsNormRows(float[] out, float[] x, float[] weight, int count) {
        int dim = config.dim();
        for (int i = 0; i < count; i++) {
            VectorMath.rmsNorm(out, i * dim, x, i * dim, weight, dim, config.normEps());
        }
    }

    private void computeRopeAngles(int position, State s) {
        for (int i = 0; i < ropeFrequencies.length; i++) {
            float angle = position * ropeFrequencies[i];
            s.ropeCos[i] = (float) Math.cos(angle);
            s.ropeSin[i] = (float) Math.sin(angle);
        }
    }

    /** RoPE in GGUF's layout: within each head, pairs of adjacent values (2i, 2i+1) rotate by angle i. */
    private void rotate(float[] vector, int offset, int headCount, State s) {
        int headDim = config.headDim();
        for (int h = 0; h < headCount; h++) {
            int base = offset + h * headDim;
            for (int i = 0; i < ropeFrequencies.length; i++) {
                int j = base + 2 * i;
                float a = vector[j];
                float b = vector[j + 1];
                vector[j] = a * s.ropeCos[i] - b * s.ropeSin[i];
                vector[j + 1] = a * s.ropeSin[i] + b * s.ropeCos[i];
            }
        }
    }
}
