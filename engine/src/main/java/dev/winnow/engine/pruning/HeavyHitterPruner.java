package dev.winnow.engine.pruning;

import dev.winnow.engine.kv.AttentionWeights;
import dev.winnow.engine.kv.PagedKvCache;

import java.util.Arrays;

/**
 * H2O's heavy hitters: every token accumulates the attention it receives (averaged over heads, summed over every
 * query since it arrived). After each block a layer keeps its last {@code window} tokens and, of the others, the
 * {@code budget} with the most accumulated attention (ties: the newer stays); the rest are dropped from the
 * next step on.
 */
final class HeavyHitterPruner extends CachePruner {
    private final int budget;
    private final int window;
    private final AttentionWeights[] accumulated;

    HeavyHitterPruner(int budget, int window, int layers, int capacity, PagedKvCache cache, PruningTrace trace) {
        super(cache, trace);
        this.budget = budget;
        this.window = window;
        this.accumulated = new AttentionWeights[layers];
        for (int l = 0; l < layers; l++) {
            accumulated[l] = new AttentionWeights(false, new float[capacity]);
        }
    }

    @Override
    public void reset() {
        for (AttentionWeights layer : accumulated) {
            Arrays.fill(layer.byPosition(), 0f);
        }
    }

    @Override
    public AttentionWeights attentionWeights(int layer, int firstPosition, int count) {
        return accumulated[layer];
    }

    @Override
    public void afterAttention(int layer, int firstPosition, int count) {
        int last = firstPosition + count - 1;
        int lastCandidate = last - window;
        int candidates = 0;
        PagedKvCache.LiveTokens tokens = cache.liveTokens(layer);
        while (tokens.next()) {
            if (tokens.position() <= lastCandidate) {
                candidates++;
            }
        }
        evictLowest(layer, accumulated[layer].byPosition(), lastCandidate, candidates - budget, last + 1);
    }
}
