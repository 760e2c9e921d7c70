package dev.winnow.cli;

import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.engine.pruning.PruningPolicy;

import java.io.PrintWriter;

/**
 * Prints what a paged KV cache holds, layer by layer and in total, against a dense cache of the same sequence:
 * live tokens, pages, free slots in held pages, bytes, the kept fraction of the sequence and the sparsity of
 * dcp.md section 6 (the fraction of (query, earlier token) pairs that were pruned).
 */
final class KvStatsTable {
    private KvStatsTable() {
    }

    static void print(PrintWriter err, PagedKvCache cache, PruningPolicy policy) {
        err.printf("KV cache (%s, %d-token pages, %,d bytes each; pool: %d of %d pages in use; pruning: %s)%n",
                cache.pool().storage(), cache.pool().pageSize(), cache.pool().pageBytes(), cache.pool().pagesInUse(),
                cache.pool().maxPages(), policy);
        err.printf("%7s %8s %7s %7s %12s %12s %7s %9s%n", "layer", "live", "pages", "free", "bytes", "dense", "kept",
                "sparsity");
        long live = 0;
        long pages = 0;
        long free = 0;
        long bytes = 0;
        long dense = 0;
        long length = 0;
        double sparsity = 0;
        for (int l = 0; l < cache.geometry().layers(); l++) {
            PagedKvCache.LayerStats s = cache.stats(l);
            err.printf("%7d %,8d %7d %7d %,12d %,12d %6.1f%% %8.1f%%%n", l, s.liveTokens(), s.pages(), s.freeSlots(),
                    s.bytes(), s.denseBytes(), 100 * s.keptFraction(), 100 * s.sparsity());
            sparsity += s.sparsity();
            live += s.liveTokens();
            pages += s.pages();
            free += s.freeSlots();
            bytes += s.bytes();
            dense += s.denseBytes();
            length += s.sequenceLength();
        }
        err.printf("%7s %,8d %7d %7d %,12d %,12d %6.1f%% %8.1f%%%n", "total", live, pages, free, bytes, dense,
                length == 0 ? 100.0 : 100.0 * live / length, 100 * sparsity / cache.geometry().layers());
        if (bytes > dense) {
            err.printf("winnow: more bytes than dense: each layer holds whole pages of %d slots, and %,d of the slots "
                    + "held are free (the last page of each layer is rounded up; pruning frees slots too)%n",
                    cache.pool().pageSize(), free);
        }
        err.flush();
    }
}
