package dev.winnow.engine.generate;

import dev.winnow.engine.kv.DenseKvCache;
import dev.winnow.engine.kv.KvCache;
import dev.winnow.engine.model.LlamaModel;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.kv.PagePool;
import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.engine.model.Pruner;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.pruning.PruningTrace;
import dev.winnow.tensors.WorkerPool;

/**
 * One sequence being processed by a model: its KV cache, its position and scratch buffers. A session keeps
 * everything it has seen, so a chat continues where it left off.
 */
public final class Session {
    private final Model model;
    private final KvCache cache;
    private final LlamaModel.State state;
    private final WorkerPool pool;
    private final int contextLength;
    private final int[] single = new int[1];
    private final Pruner pruner;
    private final PruningTrace trace;
    private int position;

    public Session(Model model, KvCache cache, WorkerPool pool) {
        this(model, cache, pool, Pruner.NONE, null);
    }

    /**
     * A session whose cache is pruned by {@code pruner} (built over the same cache), recording what it does in
     * {@code trace} when that is not null.
     */
    public Session(Model model, KvCache cache, WorkerPool pool, Pruner pruner, PruningTrace trace) {
        this.model = model;
        this.cache = cache;
        this.pool = pool;
        this.pruner = pruner;
        this.trace = trace;
        this.contextLength = cache.geometry().capacity();
        this.state = model.llama().newState(LlamaModel.DEFAULT_BLOCK);
    }

    /**
     * A session over a new paged cache in {@code pages}, pruned by {@code policy}.
     *
     * @param trace where to record the pruning decisions, or null
     */
    public static Session paged(Model model, PagePool pages, int contextLength, WorkerPool pool, PruningPolicy policy,
                                PruningTrace trace) {
        PagedKvCache cache = new PagedKvCache(pages, model.config().kvGeometry(contextLength));
        return new Session(model, cache, pool, policy.create(model, cache, trace), trace);
    }

    /** The pruning record, if this session keeps one. */
    public PruningTrace trace() {
        return trace;
    }

    /** A session with a dense cache of {@code contextLength} tokens (0: the model's own context length). */
    public static Session dense(Model model, int contextLength, WorkerPool pool) {
        int ctx = contextLength > 0 ? contextLength : model.config().contextLength();
        return new Session(model, new DenseKvCache(model.config().kvGeometry(ctx)), pool);
    }

    public Model model() {
        return model;
    }

    public KvCache cache() {
        return cache;
    }

    /** Tokens processed so far; the position the next token takes. */
    public int position() {
        return position;
    }

    public int contextLength() {
        return contextLength;
    }

    /** Tokens that can still be processed before the context is full. */
    public int remaining() {
        return contextLength - position;
    }

    /**
     * Processes {@code tokens} in order and returns the logits after the last one (valid until the next call).
     *
     * @throws ContextFullException when they do not fit in what is left of the context
     */
    public float[] ingest(int[] tokens) {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("nothing to process: the token list is empty");
        }
        requireRoom(tokens.length);
        float[] logits = null;
        for (int offset = 0; offset < tokens.length; offset += state.blockSize()) {
            int count = Math.min(state.blockSize(), tokens.length - offset);
            boolean last = offset + count == tokens.length;
            record(tokens, offset, count);
            logits = model.llama().forward(tokens, offset, count, position, state, cache, pruner, pool, last);
            position += count;
        }
        return logits;
    }

    /** Processes one token and returns the logits for the next. */
    public float[] next(int token) {
        requireRoom(1);
        single[0] = token;
        record(single, 0, 1);
        float[] logits = model.llama().forward(single, 0, 1, position, state, cache, pruner, pool, true);
        position++;
        return logits;
    }

    /** Forgets the whole sequence. */
    public void reset() {
        cache.clear();
        pruner.reset();
        if (trace != null) {
            trace.clear();
        }
        position = 0;
    }

    private void record(int[] tokens, int offset, int count) {
        if (trace != null) {
            for (int i = 0; i < count; i++) {
                trace.token(tokens[offset + i]);
            }
        }
    }

    private void requireRoom(int tokens) {
        if (tokens > remaining()) {
            throw new ContextFullException(
                    "context full: %d tokens are in the context and %d more were asked for, but it holds %d (model trained for %d); raise --ctx or shorten the input"
                            .formatted(position, tokens, contextLength, model.config().contextLength()));
        }
    }
}
