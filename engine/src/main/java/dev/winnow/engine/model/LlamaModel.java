package dev.winnow.engine.model;

import dev.winnow.engine.kv.KvCache;
import dev.winnow.engine.pruning.Pruner;
import dev.winnow.tensors.FloatTensor;
import dev.winnow.tensors.VectorMath;
import dev.winnow.tensors.WorkerPool;

/**
 * The Llama forward pass, top to bottom, for a block of consecutive tokens (a prompt chunk, or the one token of
 * a decode step): embedding, then per block RMSNorm, Q/K/V projections, RoPE, causal attention through the KV
 * cache, output projection and residual, RMSNorm, SwiGLU feed-forward and residual; then the final norm and the
 * output matrix for the last token. Activations are stored token after token ({@code count x width}).
 * {@link #forwardBatch} runs the same layers over one token of each of several sequences (a decode step of the
 * server's continuous batching): the matrices see all rows at once, the cache and pruner work is per row.
 */
public final class LlamaModel {
    /** Tokens processed together when a prompt is read: each weight row is then reused for all of them. */
    public static final int DEFAULT_BLOCK = 128;

    private final LlamaConfig config;
    private final LlamaWeights weights;
    /** RoPE frequency of each rotated pair: base^(-2i/ropeDim), divided by the file's scaling (linear, per-pair factors). */
    private final float[] ropeFrequencies;

    public LlamaModel(LlamaConfig config, LlamaWeights weights) {
        this.config = config;
        this.weights = weights;
        this.ropeFrequencies = new float[config.ropeDim() / 2];
        float[] factors = weights.ropeFrequencyFactors();
        for (int i = 0; i < ropeFrequencies.length; i++) {
            double frequency = 1.0 / Math.pow(config.ropeBase(), (2.0 * i) / config.ropeDim());
            ropeFrequencies[i] = (float) (frequency / config.ropePositionScale() / (factors == null ? 1 : factors[i]));
        }
    }

    public LlamaConfig config() {
        return config;
    }

    public LlamaWeights weights() {
        return weights;
    }

    /**
     * Scratch buffers for blocks of up to {@code blockSize} tokens, allocated once so decoding allocates nothing,
     * with the workers that run the matrix work.
     */
    public State newState(int blockSize, WorkerPool pool) {
        return new State(config, blockSize, pool);
    }

    /**
     * The activations of one block of tokens: the consecutive tokens of one sequence for {@link #forward}, or one
     * token of each of up to its block size of sequences for {@link #forwardBatch}; and the workers.
     */
    public static final class State {
        final int blockSize;
        final WorkerPool pool;
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
        /** One row of xb, k and v: a batch row is handed to its own cache and pruner alone. */
        final float[] rowXb;
        final float[] rowK;
        final float[] rowV;
        /** {@code blockSize x vocabulary} logits of a batch, allocated by the first {@link #forwardBatch}. */
        float[] batchLogits;
        /** The attention of a batch's rows, allocated by the first {@link #forwardBatch}. */
        RowAttention rowAttention;

        State(LlamaConfig c, int blockSize, WorkerPool pool) {
            if (blockSize < 1) {
                throw new IllegalArgumentException("block size must be positive, got " + blockSize);
            }
            this.blockSize = blockSize;
            this.pool = pool;
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
            rowXb = new float[c.dim()];
            rowK = new float[c.kvDim()];
            rowV = new float[c.kvDim()];
        }
    }

    /**
     * Runs {@code count} tokens from {@code tokens[offset]} at the sequence's positions on, storing their keys and
     * values in its cache; its pruner decides, layer by layer, which cached tokens the block's queries still see
     * and which leave the cache.
     *
     * @param computeLogits false for prompt blocks whose next-token distribution nobody reads
     * @return the logits after the last token (inside {@code s}, valid until the next call), or null
     */
    public float[] forward(SequenceState sequence, int[] tokens, int offset, int count, State s, boolean computeLogits) {
        checkBlock(count, s);
        int firstPosition = sequence.position();
        embed(tokens, offset, count, s);
        for (int i = 0; i < count; i++) {
            addPosition(s, i, firstPosition + i);
        }
        for (int l = 0; l < config.layers(); l++) {
            LlamaWeights.Layer w = weights.layers()[l];
            projectQueryKeyValue(w, s, count);
            for (int i = 0; i < count; i++) {
                rope(s, i, firstPosition + i);
            }
            attend(l, sequence, count, s);
            outputAndFeedForward(w, s, count);
        }

        if (!computeLogits) {
            return null;
        }
        int dim = config.dim();
        normRow(s.xb, 0, s.x, (count - 1) * dim, weights.outputNorm(), weights.outputNormBias());
        weights.output().matVec(s.xb, s.logits, s.pool);
        return s.logits;
    }

    /**
     * One decode step for {@code count} sequences at once: row i is token {@code tokens[i]} at the position of
     * sequence {@code rows[i]}. Every weight matrix is applied once to all rows ({@link FloatTensor#matMul}, whose
     * outputs do not depend on the other rows); RoPE, the cache, the pruner and attention work row by row, each
     * against its own sequence. Row i gives exactly the logits that {@link #forward} of that one token on that
     * sequence gives.
     *
     * @return {@code count x vocabulary} logits, row after row (inside {@code s}, valid until the next call)
     * @throws IllegalArgumentException when the arrays are shorter than {@code count}, {@code count} is outside
     *                                  1 .. block size, a token is outside the vocabulary, or two rows share a cache
     */
    public float[] forwardBatch(SequenceState[] rows, int[] tokens, int count, State s) {
        checkBlock(count, s);
        if (tokens.length < count || rows.length < count) {
            throw new IllegalArgumentException("a batch of %d rows needs that many tokens (%d) and sequences (%d)"
                    .formatted(count, tokens.length, rows.length));
        }
        for (int i = 0; i < count; i++) {
            for (int j = 0; j < i; j++) {
                if (rows[i].cache() == rows[j].cache()) {
                    throw new IllegalArgumentException("batch rows %d and %d share one cache: a batch holds one token per sequence"
                            .formatted(j, i));
                }
            }
        }
        embed(tokens, 0, count, s);
        for (int i = 0; i < count; i++) {
            addPosition(s, i, rows[i].position());
        }
        if (s.rowAttention == null) {
            s.rowAttention = new RowAttention(s.blockSize, config.queryDim());
        }
        RowAttention attention = s.rowAttention;
        attention.rows = rows;
        try {
            for (int l = 0; l < config.layers(); l++) {
                LlamaWeights.Layer w = weights.layers()[l];
                projectQueryKeyValue(w, s, count);
                attendRows(l, count, s, attention);
                outputAndFeedForward(w, s, count);
            }
        } finally {
            attention.rows = null; // no reference to a finished sequence stays behind
        }

        if (s.batchLogits == null) {
            s.batchLogits = new float[s.blockSize * config.vocabularySize()];
        }
        normRows(s.xb, s.x, weights.outputNorm(), weights.outputNormBias(), count);
        weights.output().matMul(s.xb, s.batchLogits, count, s.pool);
        return s.batchLogits;
    }

    /**
     * The steps of {@link #attend} for every row of a batch, each against its own sequence: storing and the pruner's
     * decisions touch the shared page pool and run row after row; the attention itself reads only its own
     * sequence's pages and runs for several rows in parallel.
     */
    private void attendRows(int layer, int count, State s, RowAttention attention) {
        int dim = config.dim();
        int queryDim = config.queryDim();
        int kvDim = config.kvDim();
        SequenceState[] rows = attention.rows;
        for (int i = 0; i < count; i++) {
            int position = rows[i].position();
            rope(s, i, position);
            System.arraycopy(s.xb, i * dim, s.rowXb, 0, dim);
            System.arraycopy(s.q, i * queryDim, attention.queries[i], 0, queryDim);
            System.arraycopy(s.k, i * kvDim, s.rowK, 0, kvDim);
            System.arraycopy(s.v, i * kvDim, s.rowV, 0, kvDim);
            rows[i].cache().store(layer, position, 1, s.rowK, s.rowV);
            rows[i].pruner().beforeAttention(layer, s.rowXb, position, 1, s.pool);
        }
        attention.layer = layer;
        if (count == 1) {
            attention.attend(0, s.pool);
        } else {
            s.pool.parallelForPieces(count, 1, attention);
        }
        for (int i = 0; i < count; i++) {
            rows[i].pruner().afterAttention(layer, rows[i].position(), 1);
            System.arraycopy(attention.outputs[i], 0, s.attention, i * queryDim, queryDim);
        }
    }

    private static void checkBlock(int count, State s) {
        if (count < 1 || count > s.blockSize) {
            throw new IllegalArgumentException("a block holds 1 to %d tokens, got %d".formatted(s.blockSize, count));
        }
    }

    /** The embedding rows of {@code count} tokens into {@code s.x}. */
    private void embed(int[] tokens, int offset, int count, State s) {
        int dim = config.dim();
        for (int i = 0; i < count; i++) {
            int token = tokens[offset + i];
            if (token < 0 || token >= config.vocabularySize()) {
                throw new IllegalArgumentException("token id %d is outside the vocabulary (0..%d)"
                        .formatted(token, config.vocabularySize() - 1));
            }
            weights.tokenEmbedding().dequantizeRow(token, s.x, i * dim);
        }
    }

    /** GPT-2's learned absolute positions: adds the embedding of {@code position} to row {@code row}. */
    private void addPosition(State s, int row, int position) {
        if (weights.positionEmbedding() != null) {
            weights.positionEmbedding().dequantizeRow(position, s.xb, 0);
            VectorMath.add(s.x, row * config.dim(), s.xb, 0, config.dim());
        }
    }

    /** Attention norm of every row into {@code s.xb}, then its query, key and value projections. */
    private void projectQueryKeyValue(LlamaWeights.Layer w, State s, int count) {
        normRows(s.xb, s.x, w.attentionNorm(), w.attentionNormBias(), count);
        w.wq().matMul(s.xb, s.q, count, s.pool);
        w.wk().matMul(s.xb, s.k, count, s.pool);
        w.wv().matMul(s.xb, s.v, count, s.pool);
        if (w.qBias() != null) {
            addBias(s.q, w.qBias(), count);
            addBias(s.k, w.kBias(), count);
            addBias(s.v, w.vBias(), count);
        }
        if (w.qNorm() != null) {
            normalizeHeads(s.q, w.qNorm(), count * config.heads());
            normalizeHeads(s.k, w.kNorm(), count * config.kvHeads());
        }
    }

    /** Adds a bias to each of {@code count} rows. */
    private static void addBias(float[] rows, float[] bias, int count) {
        for (int i = 0; i < count; i++) {
            VectorMath.add(rows, i * bias.length, bias, 0, bias.length);
        }
    }

    /** RMS-normalises each of {@code heads} consecutive head vectors in place (Qwen3's query and key norms). */
    private void normalizeHeads(float[] vectors, float[] weight, int heads) {
        int headDim = config.headDim();
        for (int h = 0; h < heads; h++) {
            VectorMath.rmsNorm(vectors, h * headDim, vectors, h * headDim, weight, headDim, config.normEps());
        }
    }

    /** Rotates the query and key of row {@code row} for its position. */
    private void rope(State s, int row, int position) {
        if (config.architecture().rope() == Architecture.RopeStyle.NONE) {
            return;
        }
        computeRopeAngles(position, s);
        rotate(s.q, row * config.queryDim(), config.heads(), s);
        rotate(s.k, row * config.kvDim(), config.kvHeads(), s);
    }

    /**
     * One layer's attention for {@code count} consecutive tokens of one sequence: their keys and values into the
     * cache, the pruner's decisions around the causal attention of their queries.
     */
    private static void attend(int layer, SequenceState sequence, int count, State s) {
        KvCache cache = sequence.cache();
        Pruner pruner = sequence.pruner();
        int firstPosition = sequence.position();
        cache.store(layer, firstPosition, count, s.k, s.v);
        pruner.beforeAttention(layer, s.xb, firstPosition, count, s.pool);
        cache.attend(layer, s.q, s.attention, firstPosition, count, s.pool,
                pruner.attentionWeights(layer, firstPosition, count));
        pruner.afterAttention(layer, firstPosition, count);
    }

    /**
     * The attention of each row of a batch against its own sequence's cache, one row per thread at a time: with
     * several sequences that spreads the per-sequence work (reading each sequence's keys and values, the softmax)
     * over the threads, where splitting one sequence's heads would leave threads idle or waiting on tiny pieces.
     * A row's attention runs inline, exactly the computation {@link #forward} does for that token alone.
     */
    static final class RowAttention implements WorkerPool.RangeTask {
        /** Runs a row's attention on the thread that claimed it; without threads of its own, it is never closed. */
        private static final WorkerPool INLINE = new WorkerPool(1);

        final float[][] queries;
        final float[][] outputs;
        int layer;
        SequenceState[] rows;

        RowAttention(int rows, int queryDim) {
            queries = new float[rows][queryDim];
            outputs = new float[rows][queryDim];
        }

        /** Row {@code i}'s attention against its own sequence, on {@code pool}'s threads. */
        void attend(int i, WorkerPool pool) {
            int position = rows[i].position();
            rows[i].cache().attend(layer, queries[i], outputs[i], position, 1, pool,
                    rows[i].pruner().attentionWeights(layer, position, 1));
        }

        @Override
        public void run(int first, int end) {
            for (int i = first; i < end; i++) {
                attend(i, INLINE);
            }
        }
    }

    /** Output projection and residual, then the SwiGLU feed-forward block and residual, for every row. */
    private void outputAndFeedForward(LlamaWeights.Layer w, State s, int count) {
        int dim = config.dim();
        w.wo().matMul(s.attention, s.xb, count, s.pool);
        if (w.oBias() != null) {
            addBias(s.xb, w.oBias(), count);
        }
        VectorMath.add(s.x, 0, s.xb, 0, count * dim);
        normRows(s.xb, s.x, w.ffnNorm(), w.ffnNormBias(), count);
        if (w.gate() != null) {
            w.gate().matMul(s.xb, s.hidden, count, s.pool);
            w.up().matMul(s.xb, s.hiddenUp, count, s.pool);
            VectorMath.swiglu(s.hidden, s.hiddenUp, count * config.ffnDim());
        } else {
            w.up().matMul(s.xb, s.hidden, count, s.pool);
            addBias(s.hidden, w.upBias(), count);
            VectorMath.gelu(s.hidden, 0, count * config.ffnDim());
        }
        w.down().matMul(s.hidden, s.xb, count, s.pool);
        if (w.downBias() != null) {
            addBias(s.xb, w.downBias(), count);
        }
        VectorMath.add(s.x, 0, s.xb, 0, count * dim);
    }

    /** The norm of every row (see {@link #normRow}). */
    private void normRows(float[] out, float[] x, float[] weight, float[] bias, int count) {
        int dim = config.dim();
        for (int i = 0; i < count; i++) {
            normRow(out, i * dim, x, i * dim, weight, bias);
        }
    }

    /** RMSNorm of one row, or LayerNorm when the family's norms have biases (GPT-2). */
    private void normRow(float[] out, int outOffset, float[] x, int xOffset, float[] weight, float[] bias) {
        if (bias == null) {
            VectorMath.rmsNorm(out, outOffset, x, xOffset, weight, config.dim(), config.normEps());
        } else {
            VectorMath.layerNorm(out, outOffset, x, xOffset, weight, bias, config.dim(), config.normEps());
        }
    }

    private void computeRopeAngles(int position, State s) {
        for (int i = 0; i < ropeFrequencies.length; i++) {
            float angle = position * ropeFrequencies[i];
            s.ropeCos[i] = (float) Math.cos(angle);
            s.ropeSin[i] = (float) Math.sin(angle);
        }
    }

    /**
     * RoPE: within each head, pair i of the rotated dimensions turns by angle i. The pair is (2i, 2i+1) in
     * Llama's GGUF layout, (i, i + ropeDim/2) in the NeoX layout of Qwen and Phi-3.
     */
    private void rotate(float[] vector, int offset, int headCount, State s) {
        int headDim = config.headDim();
        boolean adjacent = config.architecture().rope() == Architecture.RopeStyle.ADJACENT;
        int pairs = ropeFrequencies.length;
        for (int h = 0; h < headCount; h++) {
            int base = offset + h * headDim;
            for (int i = 0; i < pairs; i++) {
                int j = adjacent ? base + 2 * i : base + i;
                int k = adjacent ? j + 1 : j + pairs;
                float a = vector[j];
                float b = vector[k];
                vector[j] = a * s.ropeCos[i] - b * s.ropeSin[i];
                vector[k] = a * s.ropeSin[i] + b * s.ropeCos[i];
            }
        }
    }
}
