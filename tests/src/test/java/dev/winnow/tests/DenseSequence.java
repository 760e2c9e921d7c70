package dev.winnow.tests;

import dev.winnow.engine.kv.DenseKvCache;
import dev.winnow.engine.kv.KvCache;
import dev.winnow.engine.kv.KvGeometry;
import dev.winnow.engine.model.LlamaModel;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.model.SequenceState;
import dev.winnow.engine.pruning.Pruner;
import dev.winnow.tensors.WorkerPool;

/**
 * An unpruned sequence over the plain dense cache, straight through the forward pass: the reference that the
 * engine's paged sequences, and other models, are compared with.
 */
public final class DenseSequence implements SequenceState {
    private final Model model;
    private final DenseKvCache cache;
    private final LlamaModel.State state;
    private final int[] single = new int[1];
    private int position;

    /** A sequence of up to the model's context length, on {@code pool}'s threads. */
    public DenseSequence(Model model, WorkerPool pool) {
        this.model = model;
        this.cache = new DenseKvCache(KvGeometry.of(model.config(), model.config().contextLength()));
        this.state = model.llama().newState(LlamaModel.DEFAULT_BLOCK, pool);
    }

    @Override
    public KvCache cache() {
        return cache;
    }

    @Override
    public Pruner pruner() {
        return Pruner.NONE;
    }

    @Override
    public int position() {
        return position;
    }

    /** Reads {@code tokens} in blocks; the logits after the last one. */
    public float[] ingest(int[] tokens) {
        float[] logits = null;
        for (int offset = 0; offset < tokens.length; offset += state.blockSize()) {
            int count = Math.min(state.blockSize(), tokens.length - offset);
            logits = model.llama().forward(this, tokens, offset, count, state, offset + count == tokens.length);
            position += count;
        }
        return logits;
    }

    /** Reads one token; the logits after it. */
    public float[] next(int token) {
        single[0] = token;
        return ingest(single);
    }
}
