package dev.winnow.engine.pruning;

import dev.winnow.engine.kv.AttentionWeights;
import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.tensors.WorkerPool;
import org.eclipse.collections.api.set.primitive.MutableIntSet;
import org.eclipse.collections.impl.set.mutable.primitive.IntHashSet;

import java.util.Arrays;

/** What every pruner over a paged cache shares: the cache, the optional trace, and freeing what was hidden. */
abstract class CachePruner implements Pruner {
    protected final PagedKvCache cache;
    protected final PruningTrace trace;
    private final PagedKvCache.DropListener recordDrop;

    CachePruner(PagedKvCache cache, PruningTrace trace) {
        this.cache = cache;
        this.trace = trace;
        this.recordDrop = trace == null ? null : (layer, position, step) -> trace.dropped(layer, position, step);
    }

    /** Nothing to decide before the attention unless a policy says so. */
    @Override
    public void beforeAttention(int layer, float[] normalized, int firstPosition, int count, WorkerPool pool) {
    }

    /** No attention weights unless a policy needs them. */
    @Override
    public AttentionWeights attentionWeights(int layer, int firstPosition, int count) {
        return null;
    }

    /** By default the decisions were all taken before the attention: free what they hid. */
    @Override
    public void afterAttention(int layer, int firstPosition, int count) {
        commit(layer, firstPosition + count - 1);
    }

    /** Frees every token of the layer hidden from a query at or before {@code lastPosition}. */
    protected final void commit(int layer, int lastPosition) {
        cache.commitDrops(layer, lastPosition, recordDrop);
    }

    /**
     * Hides, from {@code step} on, the {@code excess} live tokens of a layer with the lowest scores among those at
     * positions up to {@code lastCandidate} (ties: the older goes first), then frees them.
     */
    protected final void evictLowest(int layer, float[] scoreByPosition, int lastCandidate, int excess, int step) {
        if (excess <= 0) {
            return;
        }
        int candidates = 0;
        long[] keys = new long[cache.tokens(layer)];
        for (int p = 0; p < cache.pageCount(layer); p++) {
            int page = cache.page(layer, p);
            for (long bits = cache.liveSlots(page); bits != 0; bits &= bits - 1) {
                int position = cache.position(page, Long.numberOfTrailingZeros(bits));
                if (position <= lastCandidate) {
                    // Scores are non-negative, so their float bits order like the scores; the position breaks ties.
                    keys[candidates++] = (long) Float.floatToIntBits(Math.max(0f, scoreByPosition[position])) << 32 | position;
                }
            }
        }
        Arrays.sort(keys, 0, candidates);
        int evicted = Math.min(excess, candidates);
        MutableIntSet victims = new IntHashSet(evicted);
        for (int i = 0; i < evicted; i++) {
            victims.add((int) keys[i]);
        }
        for (int p = 0; p < cache.pageCount(layer); p++) {
            int page = cache.page(layer, p);
            for (long bits = cache.liveSlots(page); bits != 0; bits &= bits - 1) {
                int slot = Long.numberOfTrailingZeros(bits);
                int position = cache.position(page, slot);
                if (victims.contains(position)) {
                    cache.hideFrom(page, slot, step);
                }
            }
        }
        if (trace != null) {
            for (int i = 0; i < evicted; i++) {
                int position = (int) keys[i];
                trace.score(layer, position, scoreByPosition[position]);
            }
        }
        commit(layer, step);
    }
}
