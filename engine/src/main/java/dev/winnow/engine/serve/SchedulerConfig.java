package dev.winnow.engine.serve;

import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.runtime.EngineConfig;

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
    public SchedulerConfig {
        if (queueCapacity < 1) {
            throw new IllegalArgumentException("--queue must be at least 1, got " + queueCapacity);
        }
        if (contextLength < 2) {
            throw new IllegalArgumentException("the context must hold at least 2 tokens, got " + contextLength);
        }
        new EngineConfig(threads, contextLength, kv, pruning, parallel); // checks the rest
    }

    /** The engine the scheduler runs: {@code parallel} sequences decoded together. */
    public EngineConfig engine() {
        return new EngineConfig(threads, contextLength, kv, pruning, parallel);
    }
}
