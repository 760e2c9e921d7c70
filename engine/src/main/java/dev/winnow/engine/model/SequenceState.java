package dev.winnow.engine.model;

import dev.winnow.engine.kv.KvCache;

/**
 * What the forward pass needs of one sequence: the cache its keys and values go to, the pruner that decides
 * which of them stay, and the position its next token takes. The pass reads the position; moving it on is the
 * owner's job.
 */
public final class SequenceState {
    private final KvCache cache;
    private final Pruner pruner;
    private int position;

    public SequenceState(KvCache cache, Pruner pruner) {
        this.cache = cache;
        this.pruner = pruner;
    }

    public KvCache cache() {
        return cache;
    }

    public Pruner pruner() {
        return pruner;
    }

    public int position() {
        return position;
    }

    /** Moves on by {@code count} tokens read. */
    public void advance(int count) {
        position += count;
    }

    /** Back to the start: the owner has emptied the cache and reset the pruner. */
    public void rewind() {
        position = 0;
    }
}
