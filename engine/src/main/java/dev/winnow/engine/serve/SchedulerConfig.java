package dev.winnow.engine.serve;

import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.pruning.PruningPolicy;

/**
 * How the scheduler runs.
 *
 * @param parallel      the most sequences in the batch at once (prompt reading and decoding together)
 * @param queueCapacity the most requests waiting for a place in the batch; more are turned away
 * @param contextLength the most tokens (prompt and generated) one sequence may hold
 * @param kv            page size, storage type and budget of the shared page pool; a null budget means room for
 *                      {@code parallel} full contexts
 * @param pruning       the pruning policy each sequence gets its own pruner from
 * @param threads       worker threads for the matrix work
 */
public record SchedulerConfig(int parallel, int queueCapacity, int contextLength, KvCacheConfig kv,
                              PruningPolicy pruning, int threads) {
    /** More rows than this in one batch would make every step slow for everyone. */
    public static final int MAX_PARALLEL = 256;

    public SchedulerConfig {
        if (parallel < 1 || parallel > MAX_PARALLEL) {
            throw new IllegalArgumentException("--parallel must be 1 to %d, got %d".formatted(MAX_PARALLEL, parallel));
        }
        if (queueCapacity < 1) {
            throw new IllegalArgumentException("--queue must be at least 1, got " + queueCapacity);
        }
        if (contextLength < 2) {
            throw new IllegalArgumentException("the context must hold at least 2 tokens, got " + contextLength);
        }
        if (threads < 1) {
            throw new IllegalArgumentException("--threads must be at least 1, got " + threads);
        }
        if (kv == null || pruning == null) {
            throw new IllegalArgumentException("the KV cache configuration and the pruning policy are required");
        }
    }
}
