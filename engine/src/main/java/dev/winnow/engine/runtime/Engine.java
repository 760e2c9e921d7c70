package dev.winnow.engine.runtime;

import dev.winnow.engine.kv.KvGeometry;
import dev.winnow.engine.kv.PagePool;
import dev.winnow.engine.model.LlamaModel;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.model.SequenceState;
import dev.winnow.tensors.WorkerPool;

import java.util.Arrays;

/**
 * The one way to run a model: owns the worker threads, the page pool (sized for the pruning policy) and the
 * forward pass's buffers, and hands out {@link Sequence}s over them. Every command and the server run through
 * it. An engine and its sequences belong to one thread at a time; logits live in its buffers until its next
 * forward pass.
 */
public final class Engine implements AutoCloseable {
    private final Model model;
    private final EngineConfig config;
    private final KvGeometry geometry;
    private final WorkerPool workers;
    private final PagePool pages;
    private final LlamaModel.State state;
    /**
     * A row of logits per worker thread, copied out of the forward pass's buffers to be adjusted and sampled; a
     * sequence sampling by itself takes the first.
     */
    final float[][] logitsRows;
    private final int[] batchTokens;
    private final int[] batchCounts;
    private final boolean[] batchLogits;
    private final SequenceState[] batchStates;
    private final BatchSampling sampling = new BatchSampling();

    /**
     * @throws IllegalArgumentException when the configuration cannot work for this model (a KV budget below one
     *                                  page per layer, a pruning policy that needs a module the model lacks)
     */
    public Engine(Model model, EngineConfig config) {
        this.model = model;
        this.config = config;
        this.geometry = model.config().kvGeometry(config.contextLength());
        this.pages = config.kv().newPool(geometry, config.pruning().interactionDim(model), config.batchSize(),
                config.pruning().peakTokensPerLayer(config.contextLength()));
        this.workers = new WorkerPool(config.threads());
        // room for a prompt block beside the other sequences' decode rows
        this.state = model.llama().newState(LlamaModel.DEFAULT_BLOCK + config.batchSize() - 1, workers);
        this.logitsRows = new float[config.threads()][model.config().vocabularySize()];
        this.batchTokens = new int[state.blockSize()];
        this.batchCounts = new int[config.batchSize()];
        this.batchLogits = new boolean[config.batchSize()];
        this.batchStates = new SequenceState[config.batchSize()];
    }

    public Model model() {
        return model;
    }

    public EngineConfig config() {
        return config;
    }

    public KvGeometry geometry() {
        return geometry;
    }

    /** The shared page pool every sequence's cache takes its pages from. */
    public PagePool pages() {
        return pages;
    }

    /** A new, empty sequence with its own cache in the shared pool and its own pruner. */
    public Sequence newSequence(SequenceOptions options) {
        return new Sequence(this, options);
    }

    LlamaModel.State state() {
        return state;
    }

    /** The most tokens one {@link #step} reads over all its sequences. */
    public int rowsPerStep() {
        return state.blockSize();
    }

    /**
     * One forward pass for {@code count} sequences at once: each reads what it has next (see
     * {@link Sequence#nextRead}), the next block of its prompt or its next token, and every weight matrix is
     * applied once to all their rows. Each sequence then holds what reading that alone would have given it: the
     * same cache and, once it has read every accepted token, the same logits.
     *
     * @throws IllegalArgumentException when the sequences read more than {@link #rowsPerStep} tokens together
     */
    public void step(Sequence[] rows, int count) {
        int total = 0;
        for (int i = 0; i < count; i++) {
            int read = rows[i].nextRead();
            if (total + read > batchTokens.length) {
                throw new IllegalArgumentException("a step reads at most %d tokens, and these %d sequences have more to read"
                        .formatted(batchTokens.length, count));
            }
            rows[i].copyNextRead(batchTokens, total);
            total += read;
            batchCounts[i] = read;
            batchLogits[i] = rows[i].position() + read == rows[i].length();
            batchStates[i] = rows[i].state;
        }
        try {
            float[] logits = model.llama().forwardBatch(batchStates, batchTokens, batchCounts, batchLogits, count, state);
            for (int i = 0, row = 0; i < count; i++) {
                rows[i].advance(batchCounts[i], batchLogits[i] ? logits : null, row * model.config().vocabularySize());
                row += batchLogits[i] ? 1 : 0;
            }
        } finally {
            Arrays.fill(batchStates, 0, count, null); // no reference to a finished sequence stays behind
        }
    }

    /**
     * {@link Sequence#sampleNext} for {@code count} sequences at once, spread over the worker threads: each has its
     * own sampler, decoder and row of logits, so it picks the token it would pick alone. {@code pieces[i]} gets
     * the text of row i's token (null for a stop token), or {@code failures[i]} what sampling it threw.
     */
    public void sampleNext(Sequence[] rows, int count, String[] pieces, RuntimeException[] failures) {
        sampling.rows = rows;
        sampling.count = count;
        sampling.pieces = pieces;
        sampling.failures = failures;
        try {
            if (count == 1) {
                sampling.run(0, 1); // one sequence is not worth waking a worker for
            } else {
                workers.parallelFor(workers.threads(), sampling);
            }
        } finally {
            sampling.rows = null;
            sampling.pieces = null;
            sampling.failures = null;
        }
    }

    /**
     * The work of {@link #sampleNext}, one index per thread: thread t samples its share of the rows in its own row of
     * logits. Built once, so a step allocates nothing for it.
     */
    private final class BatchSampling implements WorkerPool.RangeTask {
        Sequence[] rows;
        int count;
        String[] pieces;
        RuntimeException[] failures;

        @Override
        public void run(int firstThread, int endThread) {
            int threads = count == 1 ? 1 : workers.threads();
            for (int thread = firstThread; thread < endThread; thread++) {
                for (int i = thread * count / threads; i < (thread + 1) * count / threads; i++) {
                    try {
                        pieces[i] = rows[i].sampleNext(logitsRows[thread]);
                        failures[i] = null;
                    } catch (RuntimeException e) {
                        pieces[i] = null;
                        failures[i] = e;
                    }
                }
            }
        }
    }

    /** Stops the workers and frees the pool; the sequences must not be used any more. */
    @Override
    public void close() {
        workers.close();
        pages.close();
    }
}
