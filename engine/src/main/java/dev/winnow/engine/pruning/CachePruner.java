package dev.winnow.engine.pruning;

import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.engine.model.Pruner;

import java.util.Arrays;

/**
 * What every pruner over a paged cache shares: the cache, the optional trace, and freeing what was hidden.
 * Pruners walk the cache's live tokens with its cursor and keep their buffers, so a step allocates nothing.
 */
abstract class CachePruner implements Pruner {
    protected final PagedKvCache cache;
    protected final PruningTrace trace;
    private final PagedKvCache.DropListener recordDrop;
    /** Eviction keys of the candidates of {@link #evictLowest}, grown as the cache grows. */
    private long[] evictionKeys = new long[64];

    CachePruner(PagedKvCache cache, PruningTrace trace) {
        this.cache = cache;
        this.trace = trace;
        this.recordDrop = trace == null ? null : (layer, position, step) -> trace.dropped(layer, position, step);
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
        hideLowest(layer, scoreByPosition, lastCandidate, excess, step);
        commit(layer, step);
    }

    /**
     * Hides, from {@code step} on, the {@code excess} tokens of a layer still visible at {@code step} with the
     * lowest scores among those at positions up to {@code lastCandidate} (ties: the older goes first); their
     * slots are freed by the next {@link #commit} that reaches {@code step}.
     */
    protected final void hideLowest(int layer, float[] scoreByPosition, int lastCandidate, int excess, int step) {
        if (excess <= 0) {
            return;
        }
        int candidates = 0;
        PagedKvCache.LiveTokens tokens = cache.liveTokens(layer);
        while (tokens.next()) {
            if (candidate(tokens, lastCandidate, step)) {
                if (candidates == evictionKeys.length) {
                    evictionKeys = Arrays.copyOf(evictionKeys, 2 * candidates);
                }
                evictionKeys[candidates++] = evictionKey(scoreByPosition, tokens.position());
            }
        }
        if (Math.min(excess, candidates) > 0) {
            long highestEvicted = smallest(evictionKeys, candidates, Math.min(excess, candidates));
            tokens = cache.liveTokens(layer);
            while (tokens.next()) {
                int position = tokens.position();
                if (candidate(tokens, lastCandidate, step) && evictionKey(scoreByPosition, position) <= highestEvicted) {
                    cache.hideFrom(tokens.slot(), step);
                    if (trace != null) {
                        trace.score(layer, position, scoreByPosition[position]);
                    }
                }
            }
        }
    }

    private boolean candidate(PagedKvCache.LiveTokens token, int lastCandidate, int step) {
        return token.position() <= lastCandidate && cache.visibleUntil(token.slot()) > step;
    }

    /** Orders tokens for eviction by score (float bits made to order like the floats, sign included), then position. */
    private static long evictionKey(float[] scoreByPosition, int position) {
        int bits = Float.floatToIntBits(scoreByPosition[position]);
        return (long) (bits ^ (bits >> 31 & Integer.MAX_VALUE)) << 32 | position;
    }

    /**
     * The k-th smallest (k from 1) of the distinct {@code values[0, n)}, which it reorders: a quickselect in place,
     * so eviction neither sorts every candidate nor allocates.
     */
    static long smallest(long[] values, int n, int k) {
        int low = 0;
        int high = n - 1;
        int target = k - 1;
        while (low < high) {
            long pivot = values[(low + high) >>> 1];
            int i = low;
            int j = high;
            while (i <= j) {
                while (values[i] < pivot) {
                    i++;
                }
                while (values[j] > pivot) {
                    j--;
                }
                if (i <= j) {
                    long swapped = values[i];
                    values[i++] = values[j];
                    values[j--] = swapped;
                }
            }
            if (target <= j) {
                high = j;
            } else if (target >= i) {
                low = i;
            } else {
                return values[target];
            }
        }
        return values[target];
    }
}
