package dev.winnow.engine.pruning;

import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.tensors.WorkerPool;

/**
 * StreamingLLM's attention sinks plus a sliding window: at query position j a layer keeps the first
 * {@code sink} tokens and the last {@code window} (positions j - window + 1 .. j). Token k >= sink is hidden
 * from step k + window on.
 */
final class WindowPruner extends CachePruner {
    private final int sink;
    private final int window;

    WindowPruner(int sink, int window, PagedKvCache cache, PruningTrace trace) {
        super(cache, trace);
        this.sink = sink;
        this.window = window;
    }

    @Override
    public void beforeAttention(int layer, float[] normalized, int firstPosition, int count, WorkerPool pool) {
        int last = firstPosition + count - 1;
        PagedKvCache.LiveTokens tokens = cache.liveTokens(layer);
        while (tokens.next()) {
            int position = tokens.position();
            if (position >= sink && position + window <= last) {
                cache.hideFrom(tokens.slot(), position + window);
            }
        }
    }
}
