package dev.winnow.tests.kv;

import dev.winnow.engine.kv.KvGeometry;
import dev.winnow.engine.kv.PagePool;
import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tensors.WorkerPool;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Run by {@link PromptAttentionAllocationTest} in a JVM of its own, with the launcher's compiler flags: a cache of
 * stories260K's attention shape (8 query heads, 4 KV heads of 8, F16, pages of 16) holding {@link #DEPTH} tokens
 * answers blocks of {@link #BLOCK} prompt queries on two threads, with two other kinds of task run on the same
 * worker pool between the blocks (as the forward pass's matrix products are), {@link #WARM_UP} blocks so that the
 * JIT compiles the attention code, then the bytes every thread of the loop allocates (the JVM's per-thread
 * counters) over {@link #MEASURED} more blocks. A block reads {@code DEPTH / 16} pages per KV head; it must
 * allocate less than one byte per page read, so a vector boxed per page, per query or per tile (what made a long
 * prompt produce gigabytes of garbage) fails the check. Prints "ok", or the bytes per thread and exits with 1.
 */
final class PromptAttentionAllocationCheck {
    private static final int DEPTH = 4096;
    private static final int BLOCK = 128;
    private static final int WARM_UP = 150;
    private static final int MEASURED = 10;

    private PromptAttentionAllocationCheck() {
    }

    public static void main(String[] args) {
        int heads = 8;
        int kvHeads = 4;
        int headDim = 8;
        KvGeometry geometry = new KvGeometry(1, heads, kvHeads, headDim, DEPTH);
        SplittableRandom random = new SplittableRandom(5);
        float[] keys = gaussian(random, DEPTH * kvHeads * headDim);
        float[] values = gaussian(random, DEPTH * kvHeads * headDim);
        float[] q = gaussian(random, BLOCK * heads * headDim);
        float[] out = new float[q.length];
        float[] other = new float[1 << 12];
        var threadBean = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (PagePool pool = new PagePool(kvHeads, headDim, 0, 16, GgmlType.F16, DEPTH / 16 + 1);
             WorkerPool workers = new WorkerPool(2)) {
            PagedKvCache cache = new PagedKvCache(pool, geometry);
            cache.store(0, 0, DEPTH, keys, values);
            WorkerPool.RangeTask halve = (start, end) -> {
                for (int i = start; i < end; i++) {
                    other[i] *= 0.5f;
                }
            };
            WorkerPool.RangeTask addOne = (start, end) -> {
                for (int i = start; i < end; i++) {
                    other[i] += 1f;
                }
            };
            Runnable block = () -> {
                workers.parallelFor(other.length, halve);
                cache.attend(0, q, out, DEPTH - BLOCK, BLOCK, workers, null);
                workers.parallelForPieces(other.length, 256, addOne);
            };
            for (int b = 0; b < WARM_UP; b++) {
                block.run();
            }
            List<Thread> loop = new ArrayList<>(List.of(Thread.currentThread()));
            Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("winnow-worker-")).forEach(loop::add);
            long[] before = loop.stream().mapToLong(t -> threadBean.getThreadAllocatedBytes(t.threadId())).toArray();
            for (int b = 0; b < MEASURED; b++) {
                block.run();
            }
            long total = 0;
            for (int t = 0; t < loop.size(); t++) {
                long bytes = threadBean.getThreadAllocatedBytes(loop.get(t).threadId()) - before[t];
                System.out.printf("%s: %,d bytes%n", loop.get(t).getName(), bytes);
                total += bytes;
            }
            long pagesRead = (long) MEASURED * kvHeads * (DEPTH / 16);
            System.out.printf("%,d bytes in %d blocks of %d queries at depth %d (%,d pages read)%n", total, MEASURED,
                    BLOCK, DEPTH, pagesRead);
            if (loop.size() < 2 || total >= pagesRead) {
                System.exit(1);
            }
        }
        System.out.println("ok");
    }

    private static float[] gaussian(SplittableRandom random, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (random.nextDouble() * 2 - 1);
        }
        return x;
    }
}
