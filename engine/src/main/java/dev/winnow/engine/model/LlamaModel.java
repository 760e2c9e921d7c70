package dev.winnow.engine.model;

import dev.winnow.engine.kv.AttentionWeights;
import dev.winnow.engine.kv.KvCache;
import dev.winnow.tensors.FloatTensor;
import dev.winnow.tensors.VectorMath;
import dev.winnow.tensors.WorkerPool;

import java.util.Arrays;

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
    /** The most rows one pass holds: a prompt block beside a batch of decode rows. */
    public static final int MAX_ROWS = 512;

    private final LlamaConfig config;
    private final LlamaWeights weights;
    private final Rope rope;
    /**
     * Per layer, the projections that read the same input, in the order of {@link State}'s outputs for them (query,
     * key, value; gate, up) and their matrices: made once, so that a decode step hands them to the pool allocating
     * nothing. No gate (a GELU feed-forward): no gate-and-up group.
     */
    private final ProjectionGroup[] queryKeyValue;
    private final ProjectionGroup[] gateUp;

    public LlamaModel(LlamaConfig config, LlamaWeights weights) {
        this.config = config;
        this.weights = weights;
        this.rope = new Rope(config);
        int layers = weights.layers().length;
        queryKeyValue = new ProjectionGroup[layers];
        gateUp = new ProjectionGroup[layers];
        for (int l = 0; l < layers; l++) {
            LlamaWeights.Attention a = weights.layers()[l].attention();
            LlamaWeights.FeedForward f = weights.layers()[l].feedForward();
            queryKeyValue[l] = new ProjectionGroup(a.query(), a.key(), a.value());
            gateUp[l] = f.gate() == null ? null : new ProjectionGroup(f.gate(), f.up());
        }
    }

    /** Projections of one input, and their matrices as {@link FloatTensor#matMuls} takes them. */
    private record ProjectionGroup(LlamaWeights.Projection[] projections, FloatTensor[] matrices) {
        ProjectionGroup(LlamaWeights.Projection... projections) {
            this(projections, Arrays.stream(projections).map(LlamaWeights.Projection::weight).toArray(FloatTensor[]::new));
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
        return new State(config, rope.pairs(), blockSize, pool);
    }

    /**
     * The activations of one block of tokens: the consecutive tokens of one sequence for {@link #forward}, or one
     * token of each of up to its block size of sequences for {@link #forwardBatch}; and the workers.
     */
    public static final class State {
        final int blockSize;
        private final LlamaConfig config;
        final WorkerPool pool;
        final float[] x;
        final float[] xb;
        final float[] q;
        final float[] k;
        final float[] v;
        final float[] attention;
        final float[] hidden;
        final float[] hiddenUp;
        /** RoPE angles of each row's position, computed once for all layers: blockSize x pairs. */
        final float[] ropeCos;
        final float[] ropeSin;
        final float[] logits;
        /** One row of xb, k and v: a batch row is handed to its own cache and pruner alone. */
        final float[] rowXb;
        final float[] rowK;
        final float[] rowV;
        /** The outputs of a layer's query, key and value projections, and of its gate and up projections. */
        final float[][] queryKeyValueOut;
        final float[][] gateUpOut;
        /** {@code blockSize x vocabulary} logits of a batch or of every token of a block, allocated on first use. */
        float[] batchLogits;
        /** The attention of a batch's rows, allocated by the first {@link #forwardBatch}. */
        RowAttention rowAttention;
        /** A prompt block's rows inside a batch, allocated by the first batch that holds one. */
        private BlockScratch blockScratch;

        State(LlamaConfig c, int ropePairs, int blockSize, WorkerPool pool) {
            if (blockSize < 1 || blockSize > MAX_ROWS) {
                throw new IllegalArgumentException("block size must be 1 to %d, got %d".formatted(MAX_ROWS, blockSize));
            }
            this.blockSize = blockSize;
            this.config = c;
            this.pool = pool;
            x = new float[blockSize * c.dim()];
            xb = new float[blockSize * Math.max(c.dim(), c.queryDim())];
            q = new float[blockSize * c.queryDim()];
            k = new float[blockSize * c.kvDim()];
            v = new float[blockSize * c.kvDim()];
            attention = new float[blockSize * c.queryDim()];
            hidden = new float[blockSize * c.ffnDim()];
            hiddenUp = new float[blockSize * c.ffnDim()];
            ropeCos = new float[blockSize * ropePairs];
            ropeSin = new float[blockSize * ropePairs];
            logits = new float[c.vocabularySize()];
            rowXb = new float[c.dim()];
            rowK = new float[c.kvDim()];
            rowV = new float[c.kvDim()];
            queryKeyValueOut = new float[][] {q, k, v};
            gateUpOut = new float[][] {hidden, hiddenUp};
        }

        /** The most rows one pass holds. */
        public int blockSize() {
            return blockSize;
        }

        BlockScratch blockScratch() {
            if (blockScratch == null) {
                blockScratch = new BlockScratch(blockSize, config);
            }
            return blockScratch;
        }
    }

    /** One prompt block's rows of a batch, copied out to run through its own cache and pruner. */
    private record BlockScratch(float[] xb, float[] q, float[] k, float[] v, float[] attention) {
        BlockScratch(int rows, LlamaConfig c) {
            this(new float[rows * c.dim()], new float[rows * c.queryDim()], new float[rows * c.kvDim()],
                    new float[rows * c.kvDim()], new float[rows * c.queryDim()]);
        }
    }

    /**
     * Runs {@code count} tokens from {@code tokens[offset]} at the sequence's positions on, storing their keys and
     * values in its cache; its pruner decides, layer by layer, which cached tokens the block's queries still see
     * and which leave the cache. Past its keys and values, the last layer computes the final token's row alone
     * (no row when no logits are asked for); {@link #forwardEveryToken} computes them all.
     *
     * @param computeLogits false for prompt blocks whose next-token distribution nobody reads
     * @return the logits after the last token (inside {@code s}, valid until the next call), or null
     */
    public float[] forward(SequenceState sequence, int[] tokens, int offset, int count, State s, boolean computeLogits) {
        runLayers(sequence, tokens, offset, count, s, computeLogits ? 1 : 0);
        if (!computeLogits) {
            return null;
        }
        // the final token's row, the only one the last layer computed
        normRow(s.xb, 0, s.x, 0, weights.outputNorm());
        weights.output().matVec(s.xb, s.logits, s.pool);
        return s.logits;
    }

    /**
     * As {@link #forward}, but every token of the block goes through the last layer and the output matrix: the
     * logits after each token (what perplexity reads). Row {@code count - 1} is, bit for bit, what {@link #forward}
     * returns for the block, without computing the rows nobody reads.
     *
     * @return {@code count x vocabulary} logits, row after row (inside {@code s}, valid until the next call)
     */
    public float[] forwardEveryToken(SequenceState sequence, int[] tokens, int offset, int count, State s) {
        runLayers(sequence, tokens, offset, count, s, count);
        normRows(s.xb, s.x, weights.outputNorm(), count);
        weights.output().matMul(s.xb, batchLogits(s), count, s.pool);
        return s.batchLogits;
    }

    /**
     * The layers over a block, the last one for the block's last {@code read} rows only: the others are read by
     * nobody past their keys and values. Those rows' outputs end as the first rows of {@code s.x}.
     */
    private void runLayers(SequenceState sequence, int[] tokens, int offset, int count, State s, int read) {
        checkBlock(count, s);
        int firstPosition = sequence.position();
        embed(tokens, offset, count, s);
        for (int i = 0; i < count; i++) {
            addPosition(s, i, firstPosition + i);
        }
        requireFinite(s, count, -1);
        int lastLayer = config.layers() - 1;
        for (int l = 0; l <= lastLayer; l++) {
            projectQueryKeyValue(l, s, count);
            for (int i = 0; i < count; i++) {
                rotate(s, i);
            }
            int rows = l < lastLayer ? count : read;
            int attended = attend(l, sequence, count, rows, s.xb, s.q, s.k, s.v, s.attention, s.pool);
            if (rows < count) {
                keepLastRows(s.attention, attended, rows, config.queryDim());
                keepLastRows(s.x, count, rows, config.dim());
            }
            if (rows > 0) {
                outputAndFeedForward(l, s, rows);
                requireFinite(s, rows, l);
            }
        }
    }

    private float[] batchLogits(State s) {
        if (s.batchLogits == null) {
            s.batchLogits = new float[s.blockSize * config.vocabularySize()];
        }
        return s.batchLogits;
    }

    /** Moves the last {@code keep} of {@code rows} rows of {@code width} values to the front of {@code a}. */
    private static void keepLastRows(float[] a, int rows, int keep, int width) {
        System.arraycopy(a, (rows - keep) * width, a, 0, keep * width);
    }

    /**
     * One pass over several sequences at once: sequence {@code rows[j]} reads the {@code counts[j]} tokens that
     * follow in {@code tokens} (segment j: one token of a decode step, or a block of a prompt) at its positions on.
     * Every weight matrix is applied once to all the rows ({@link FloatTensor#matMul}, whose outputs do not depend
     * on the other rows); RoPE, the cache, the pruner and attention work segment by segment, each against its own
     * sequence, as {@link #forward} does for that segment alone. Logits are computed for the last row of each
     * segment with {@code logits[j]} set, and are exactly those {@link #forward} returns for that segment.
     *
     * @return the logits of the segments that asked for them, {@code vocabulary} values each, in segment order
     *         (inside {@code s}, valid until the next call)
     * @throws IllegalArgumentException when the arrays are shorter than {@code segments}, the rows are outside
     *                                  1 .. block size, a token is outside the vocabulary, or two segments share a
     *                                  cache
     */
    public float[] forwardBatch(SequenceState[] rows, int[] tokens, int[] counts, boolean[] logits, int segments,
                                State s) {
        if (rows.length < segments || counts.length < segments || logits.length < segments) {
            throw new IllegalArgumentException("a batch of %d segments needs that many sequences (%d), counts (%d) and logit flags (%d)"
                    .formatted(segments, rows.length, counts.length, logits.length));
        }
        int total = 0;
        for (int j = 0; j < segments; j++) {
            if (counts[j] < 1) {
                throw new IllegalArgumentException("segment %d reads %d tokens".formatted(j, counts[j]));
            }
            total += counts[j];
            for (int i = 0; i < j; i++) {
                if (rows[i].cache() == rows[j].cache()) {
                    throw new IllegalArgumentException("batch segments %d and %d share one cache: a pass reads one segment per sequence"
                            .formatted(i, j));
                }
            }
        }
        checkBlock(total, s);
        if (tokens.length < total) {
            throw new IllegalArgumentException("a batch of %d rows needs that many tokens, got %d".formatted(total, tokens.length));
        }
        embed(tokens, 0, total, s);
        for (int j = 0, row = 0; j < segments; row += counts[j], j++) {
            for (int i = 0; i < counts[j]; i++) {
                addPosition(s, row + i, rows[j].position() + i);
            }
        }
        requireFinite(s, total, -1);
        if (s.rowAttention == null) {
            s.rowAttention = new RowAttention(s.blockSize, config.queryDim());
        }
        RowAttention attention = s.rowAttention;
        attention.rows = rows;
        int lastLayer = config.layers() - 1;
        int read = total;
        try {
            for (int l = 0; l <= lastLayer; l++) {
                projectQueryKeyValue(l, s, total);
                attendSegments(l, counts, l < lastLayer ? null : logits, segments, s, attention);
                if (l == lastLayer) {
                    read = keepLogitRows(s, counts, logits, segments);
                }
                if (read > 0) {
                    outputAndFeedForward(l, s, read);
                    requireFinite(s, read, l);
                }
            }
        } finally {
            attention.rows = null; // no reference to a finished sequence stays behind
        }
        if (read > 0) {
            normRows(s.xb, s.x, weights.outputNorm(), read);
            weights.output().matMul(s.xb, batchLogits(s), read, s.pool);
        }
        return s.batchLogits;
    }

    /**
     * Keeps, in the last layer, only the rows whose logits are asked for (each such segment's last row) and moves
     * them, with their attention outputs, to the front; the other rows' keys and values are stored already.
     *
     * @return how many rows were kept
     */
    private int keepLogitRows(State s, int[] counts, boolean[] logits, int segments) {
        int dim = config.dim();
        int queryDim = config.queryDim();
        int kept = 0;
        for (int j = 0, end = 0; j < segments; j++) {
            end += counts[j];
            if (logits[j]) {
                if (end - 1 != kept) {
                    System.arraycopy(s.x, (end - 1) * dim, s.x, kept * dim, dim);
                    System.arraycopy(s.attention, (end - 1) * queryDim, s.attention, kept * queryDim, queryDim);
                }
                kept++;
            }
        }
        return kept;
    }

    /**
     * The steps of {@link #attend} for every segment of a batch, each against its own sequence. One-token segments
     * (decode rows): storing and the pruner's decisions touch the shared page pool and run row after row; the
     * attention itself reads only its own sequence's pages and runs for several rows in parallel. A longer segment
     * (a prompt block) runs {@link #attend} as {@link #forward} does, its heads spread over the workers.
     *
     * @param logits in the last layer, which segments' last rows are read past it (their attention outputs are
     *               then the segment's last row); null in the other layers, where every row is
     */
    private void attendSegments(int layer, int[] counts, boolean[] logits, int segments, State s,
                                RowAttention attention) {
        int dim = config.dim();
        int queryDim = config.queryDim();
        int kvDim = config.kvDim();
        SequenceState[] rows = attention.rows;
        int single = 0;
        for (int j = 0, row = 0; j < segments; row += counts[j], j++) {
            for (int i = 0; i < counts[j]; i++) {
                rotate(s, row + i);
            }
            if (counts[j] > 1) {
                continue;
            }
            int position = rows[j].position();
            System.arraycopy(s.xb, row * dim, s.rowXb, 0, dim);
            System.arraycopy(s.q, row * queryDim, attention.queries[single], 0, queryDim);
            System.arraycopy(s.k, row * kvDim, s.rowK, 0, kvDim);
            System.arraycopy(s.v, row * kvDim, s.rowV, 0, kvDim);
            rows[j].cache().store(layer, position, 1, s.rowK, s.rowV);
            rows[j].pruner().beforeAttention(layer, s.rowXb, position, 1, s.pool);
            attention.segments[single++] = j;
        }
        attention.layer = layer;
        if (single == 1) {
            attention.attend(0, s.pool);
        } else if (single > 1) {
            s.pool.parallelForPieces(single, 1, attention);
        }
        for (int i = 0; i < single; i++) {
            int j = attention.segments[i];
            rows[j].pruner().afterAttention(layer, rows[j].position(), 1);
        }
        for (int j = 0, row = 0, next = 0; j < segments; row += counts[j], j++) {
            if (counts[j] == 1) {
                System.arraycopy(attention.outputs[next++], 0, s.attention, row * queryDim, queryDim);
            } else {
                attendBlock(layer, rows[j], row, counts[j], logits == null ? counts[j] : logits[j] ? 1 : 0, s);
            }
        }
    }

    /**
     * {@link #attend} for a prompt block that sits at rows {@code row ..} of a batch: its rows go through the
     * block scratch of {@code s} and its attention outputs come back to the same rows (the last {@code attended}
     * of them).
     */
    private void attendBlock(int layer, SequenceState sequence, int row, int count, int read, State s) {
        BlockScratch scratch = s.blockScratch();
        int dim = config.dim();
        int queryDim = config.queryDim();
        int kvDim = config.kvDim();
        System.arraycopy(s.xb, row * dim, scratch.xb, 0, count * dim);
        System.arraycopy(s.q, row * queryDim, scratch.q, 0, count * queryDim);
        System.arraycopy(s.k, row * kvDim, scratch.k, 0, count * kvDim);
        System.arraycopy(s.v, row * kvDim, scratch.v, 0, count * kvDim);
        int attended = attend(layer, sequence, count, read, scratch.xb, scratch.q, scratch.k, scratch.v,
                scratch.attention, s.pool);
        Arrays.fill(s.attention, row * queryDim, (row + count) * queryDim, 0f);
        System.arraycopy(scratch.attention, 0, s.attention, (row + count - attended) * queryDim, attended * queryDim);
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

    /**
     * Where row {@code row} is: its RoPE angles, for every layer, or GPT-2's learned absolute position, whose
     * embedding is added to the row.
     */
    private void addPosition(State s, int row, int position) {
        rope.angles(position, s.ropeCos, s.ropeSin, row * rope.pairs());
        if (weights.positionEmbedding() != null) {
            weights.positionEmbedding().dequantizeRow(position, s.xb, 0);
            VectorMath.add(s.x, row * config.dim(), s.xb, 0, config.dim());
        }
    }

    /** Attention norm of every row into {@code s.xb}, then its query, key and value projections. */
    private void projectQueryKeyValue(int layer, State s, int count) {
        LlamaWeights.Attention a = weights.layers()[layer].attention();
        normRows(s.xb, s.x, a.norm(), count);
        project(queryKeyValue[layer], s.xb, s.queryKeyValueOut, count, s.pool);
        if (a.headNorms() != null) {
            normalizeHeads(s.q, a.headNorms().query(), count * config.heads());
            normalizeHeads(s.k, a.headNorms().key(), count * config.kvHeads());
        }
    }

    /** A projection of each of {@code count} rows, and its bias if it has one. */
    private static void project(LlamaWeights.Projection p, float[] in, float[] out, int count, WorkerPool pool) {
        p.weight().matMul(in, out, count, pool);
        addBias(p, out, count);
    }

    /**
     * Projections of the same rows, as {@link #project} would make them one after the other, but handed to the pool
     * together ({@link FloatTensor#matMuls}), so its threads meet once for all of them.
     */
    private static void project(ProjectionGroup group, float[] in, float[][] outs, int count, WorkerPool pool) {
        FloatTensor.matMuls(in, count, group.matrices(), outs, pool);
        for (int i = 0; i < outs.length; i++) {
            addBias(group.projections()[i], outs[i], count);
        }
    }

    private static void addBias(LlamaWeights.Projection p, float[] out, int count) {
        if (p.bias() != null) {
            for (int i = 0; i < count; i++) {
                VectorMath.add(out, i * p.bias().length, p.bias(), 0, p.bias().length);
            }
        }
    }

    /** RMS-normalises each of {@code heads} consecutive head vectors in place (Qwen3's query and key norms). */
    private void normalizeHeads(float[] vectors, float[] weight, int heads) {
        int headDim = config.headDim();
        for (int h = 0; h < heads; h++) {
            VectorMath.rmsNorm(vectors, h * headDim, vectors, h * headDim, weight, headDim, config.normEps());
        }
    }

    /** Rotates the query and key of row {@code row} by its position's RoPE angles. */
    private void rotate(State s, int row) {
        int angles = row * rope.pairs();
        rope.rotate(s.q, row * config.queryDim(), config.heads(), s.ropeCos, s.ropeSin, angles);
        rope.rotate(s.k, row * config.kvDim(), config.kvHeads(), s.ropeCos, s.ropeSin, angles);
    }

    /**
     * One layer's attention for {@code count} consecutive tokens of one sequence: their keys and values into the
     * cache, the pruner's decisions around the causal attention of their queries. Only the last {@code read}
     * queries are attended when nobody reads the others: neither the caller nor the pruner (which may need every
     * query's attention weights, or the last one's).
     *
     * @return how many queries were attended, the block's last ones, whose outputs are the first rows of
     *         {@code out}
     */
    private int attend(int layer, SequenceState sequence, int count, int read, float[] xb, float[] q, float[] k,
                       float[] v, float[] out, WorkerPool pool) {
        KvCache cache = sequence.cache();
        Pruner pruner = sequence.pruner();
        int firstPosition = sequence.position();
        cache.store(layer, firstPosition, count, k, v);
        pruner.beforeAttention(layer, xb, firstPosition, count, pool);
        AttentionWeights weights = pruner.attentionWeights(layer, firstPosition, count);
        int attended = weights == null ? read : weights.lastQueryOnly() ? Math.max(read, 1) : count;
        if (attended > 0) {
            keepLastRows(q, count, attended, config.queryDim());
            cache.attend(layer, q, out, firstPosition + count - attended, attended, pool, weights);
        }
        pruner.afterAttention(layer, firstPosition, count);
        return attended;
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
        /** The batch segment of each row attended here. */
        final int[] segments;
        int layer;
        SequenceState[] rows;

        RowAttention(int rows, int queryDim) {
            queries = new float[rows][queryDim];
            outputs = new float[rows][queryDim];
            segments = new int[rows];
        }

        /** Row {@code i}'s attention against its own sequence, on {@code pool}'s threads. */
        void attend(int i, WorkerPool pool) {
            SequenceState sequence = rows[segments[i]];
            int position = sequence.position();
            sequence.cache().attend(layer, queries[i], outputs[i], position, 1, pool,
                    sequence.pruner().attentionWeights(layer, position, 1));
        }

        @Override
        public void run(int first, int end) {
            for (int i = first; i < end; i++) {
                attend(i, INLINE);
            }
        }
    }

    /**
     * Stops with the place where damaged weights first show, instead of letting a NaN or an infinity reach the
     * sampler: the residual stream of the block's {@code count} rows after {@code layer} (after the embedding for
     * layer -1) must be finite. About one add per value, next to a layer's matrix work.
     */
    private void requireFinite(State s, int count, int layer) {
        if (!allFinite(s.x, count * config.dim())) {
            String where = layer < 0 ? "the token embedding (token_embd.weight)"
                    : "layer %d (%s)".formatted(layer, allFinite(s.attention, count * config.queryDim())
                            ? "its feed-forward block" : "its attention");
            throw new ModelLoadException("broken model: non-finite values (NaN or infinity) first appear in " + where
                    + "; the file's weights are damaged");
        }
    }

    private static boolean allFinite(float[] values, int length) {
        float probe = 0;
        for (int i = 0; i < length; i++) {
            probe += values[i] * 0f; // 0 for every finite value, NaN from a NaN or an infinity
        }
        return probe == 0;
    }

    /** Output projection and residual, then the SwiGLU feed-forward block and residual, for every row. */
    private void outputAndFeedForward(int layer, State s, int count) {
        LlamaWeights.Layer w = weights.layers()[layer];
        int dim = config.dim();
        project(w.attention().output(), s.attention, s.xb, count, s.pool);
        VectorMath.add(s.x, 0, s.xb, 0, count * dim);
        LlamaWeights.FeedForward f = w.feedForward();
        normRows(s.xb, s.x, f.norm(), count);
        if (f.gate() != null) {
            project(gateUp[layer], s.xb, s.gateUpOut, count, s.pool);
            VectorMath.swiglu(s.hidden, s.hiddenUp, count * config.ffnDim());
        } else {
            project(f.up(), s.xb, s.hidden, count, s.pool);
            VectorMath.gelu(s.hidden, 0, count * config.ffnDim());
        }
        project(f.down(), s.hidden, s.xb, count, s.pool);
        VectorMath.add(s.x, 0, s.xb, 0, count * dim);
    }

    /** The norm of every row (see {@link #normRow}). */
    private void normRows(float[] out, float[] x, LlamaWeights.Norm norm, int count) {
        int dim = config.dim();
        for (int i = 0; i < count; i++) {
            normRow(out, i * dim, x, i * dim, norm);
        }
    }

    /** RMSNorm of one row, or LayerNorm when the family's norms have biases (GPT-2). */
    private void normRow(float[] out, int outOffset, float[] x, int xOffset, LlamaWeights.Norm norm) {
        if (norm.bias() == null) {
            VectorMath.rmsNorm(out, outOffset, x, xOffset, norm.weight(), config.dim(), config.normEps());
        } else {
            VectorMath.layerNorm(out, outOffset, x, xOffset, norm.weight(), norm.bias(), config.dim(), config.normEps());
        }
    }
}
