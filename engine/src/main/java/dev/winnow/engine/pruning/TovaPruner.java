package dev.winnow.engine.pruning;

import dev.winnow.engine.kv.AttentionWeights;
import dev.winnow.engine.kv.PagedKvCache;

import java.util.Arrays;

/**
 * TOVA: when a layer holds more than {@code budget} tokens after a block, the tokens that the block's last query
 * attends to least (weights averaged over heads; ties: the older goes) are dropped from the next step on, until
 * {@code budget} remain. Any token may go, the newest included.
 */
final class TovaPruner extends CachePruner {
    private final int budget;
    private final float[][] lastWeights;

    TovaPruner(int budget, int layers, int capacity, PagedKvCache cache, PruningTrace trace) {
        super(cache, trace);
        this.budget = budget;
        this.lastWeights = new float[layers][capacity];
    }

    @Override
    public AttentionWeights attentionWeights(int layer, int firstPosition, int count) {
        Arrays.fill(lastWeights[layer], 0, firstPosition + count, 0f);
        return new AttentionWeights(count - 1, lastWeights[layer]);
    }

    @Override
    public void afterAttention(int layer, int firstPosition, int count) {
        int last = firstPosition + count - 1;
        evictLowest(layer, lastWeights[layer], last, cache.tokens(layer) - budget, last + 1);
    }
}
