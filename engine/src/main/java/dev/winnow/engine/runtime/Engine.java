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
    /** One row of logits, copied out of the forward pass's buffers to be adjusted and sampled. */
    final float[] logitsRow;
    private final int[] batchTokens;
    private final SequenceState[] batchStates;

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
        this.state = model.llama().newState(Math.max(LlamaModel.DEFAULT_BLOCK, config.batchSize()), workers);
        this.logitsRow = new float[model.config().vocabularySize()];
        this.batchTokens = new int[config.batchSize()];
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

    /**
     * One decode step for {@code count} sequences at once: each reads its next pending token (see
     * {@link Sequence#step}), every weight matrix applied once to all of them. Each sequence then holds its logits,
     * exactly those it would get alone.
     */
    public void step(Sequence[] rows, int count) {
        for (int i = 0; i < count; i++) {
            batchTokens[i] = rows[i].pendingToken();
            batchStates[i] = rows[i].state;
        }
        try {
            float[] logits = model.llama().forwardBatch(batchStates, batchTokens, count, state);
            for (int i = 0; i < count; i++) {
                rows[i].advance(1, logits, i * logitsRow.length);
            }
        } finally {
            Arrays.fill(batchStates, 0, count, null); // no reference to a finished sequence stays behind
        }
    }

    /** Stops the workers and frees the pool; the sequences must not be used any more. */
    @Override
    public void close() {
        workers.close();
        pages.close();
    }
}
