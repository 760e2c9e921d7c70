package dev.winnow.engine.kv;

import dev.winnow.tensors.GgmlType;

/**
 * How a session's paged KV cache is built.
 *
 * @param pageSize token slots per page
 * @param storage  F32, F16 or Q8_0
 * @param budget   the pool's memory limit; null for room for the whole context of every sequence
 */
public record KvCacheConfig(int pageSize, GgmlType storage, KvBudget budget) {
    public static final int DEFAULT_PAGE_SIZE = 16;

    public KvCacheConfig {
        if (pageSize < 1 || pageSize > PagePool.MAX_PAGE_SIZE) {
            throw new IllegalArgumentException("--kv-page-size must be 1 to %d, got %d".formatted(PagePool.MAX_PAGE_SIZE, pageSize));
        }
    }

    public static KvCacheConfig defaults() {
        return new KvCacheConfig(DEFAULT_PAGE_SIZE, GgmlType.F16, null);
    }

    /** A page pool for a model of this geometry, sized by the budget, or else for {@code sequences} sequences that each hold at most {@code peakTokensPerLayer} tokens in a layer. */
    public PagePool newPool(KvGeometry geometry, int interactionDim, int sequences, long peakTokensPerLayer) {
        long pageBytes = PagePool.pageBytes(geometry.kvHeads(), geometry.headDim(), interactionDim, pageSize, storage);
        KvBudget limit = budget != null ? budget
                : KvBudget.tokens(sequences * Math.ceilDiv(peakTokensPerLayer, pageSize) * pageSize);
        long pages = limit.maxPages(geometry.layers(), pageSize, pageBytes);
        if (pages < geometry.layers()) {
            throw new IllegalArgumentException(
                    "a KV budget of %s gives %d pages of %,d bytes, fewer than one per layer (%d layers); raise --kv-budget"
                            .formatted(limit, pages, pageBytes, geometry.layers()));
        }
        return new PagePool(geometry.kvHeads(), geometry.headDim(), interactionDim, pageSize, storage, pages);
    }
}
