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
    /** Per layer, the weights of the last query of the block, by position. */
    private final AttentionWeights[] lastWeights;

    TovaPruner(int budget, int layers, int capacity, PagedKvCache cache, PruningTrace trace) {
        super(cache, trace);
        this.budget = budget;
        this.lastWeights = new AttentionWeights[layers];
        for (int l = 0; l < layers; l++) {
            lastWeights[l] = new AttentionWeights(true, new float[capacity]);
        }
    }

    @Override
    public AttentionWeights attentionWeights(int layer, int firstPosition, int count) {
        Arrays.fill(lastWeights[layer].byPosition(), 0, firstPosition + count, 0f);
        return lastWeights[layer];
    }

    @Override
    public void afterAttention(int layer, int firstPosition, int count) {
        int last = firstPosition + count - 1;
        evictLowest(layer, lastWeights[layer].byPosition(), last, cache.tokens(layer) - budget, last + 1);
    }
}
