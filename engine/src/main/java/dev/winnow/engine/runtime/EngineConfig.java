package dev.winnow.engine.runtime;

import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.pruning.PruningPolicy;

/**
 * How an {@link Engine} runs.
 *
 * @param threads       worker threads for the matrix work
 * @param contextLength the most tokens one sequence may hold
 * @param kv            page size, storage type and budget of the page pool; a null budget means room for
 *                      {@code batchSize} full contexts
 * @param pruning       the policy each sequence gets its own pruner from
 * @param batchSize     the most sequences one {@link Engine#step} decodes together
 */
public record EngineConfig(int threads, int contextLength, KvCacheConfig kv, PruningPolicy pruning, int batchSize) {
    /** More rows than this in one batch would make every step slow for everyone. */
    public static final int MAX_BATCH = 256;

    public EngineConfig {
        if (threads < 1) {
            throw new IllegalArgumentException("--threads must be at least 1, got " + threads);
        }
        if (contextLength < 1) {
            throw new IllegalArgumentException("the context must hold at least 1 token, got " + contextLength);
        }
        if (batchSize < 1 || batchSize > MAX_BATCH) {
            throw new IllegalArgumentException("--parallel must be 1 to %d, got %d".formatted(MAX_BATCH, batchSize));
        }
        if (kv == null || pruning == null) {
            throw new IllegalArgumentException("the KV cache configuration and the pruning policy are required");
        }
    }

    /** One sequence at a time with the default cache layout. */
    public static EngineConfig single(int threads, int contextLength, PruningPolicy pruning) {
        return new EngineConfig(threads, contextLength, KvCacheConfig.defaults(), pruning, 1);
    }
}
