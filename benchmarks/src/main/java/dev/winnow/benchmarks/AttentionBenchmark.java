package dev.winnow.benchmarks;

import dev.winnow.engine.kv.KvGeometry;
import dev.winnow.engine.kv.PagePool;
import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tensors.WorkerPool;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Attention of one layer over the paged KV cache ({@link PagedKvCache#attend}) with the heads of Llama-3.2-1B
 * ({@code llama1b}: 32 query heads, 8 KV heads of 64) or SmolLM-135M ({@code smol135m}: 9 query heads, 3 KV heads
 * of 64): {@code queries} new tokens (1 for a decode step, 32 for a prompt block) attending to {@code depth}
 * cached ones. Time per call; a decode step makes one call per layer.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseParallelGC"})
public class AttentionBenchmark {
    private static final int HEAD_DIM = 64;

    /** A model's attention heads: query heads and KV heads, of {@link #HEAD_DIM} values each. */
    public enum HeadShape {
        llama1b(32, 8), smol135m(9, 3);

        final int heads;
        final int kvHeads;

        HeadShape(int heads, int kvHeads) {
            this.heads = heads;
            this.kvHeads = kvHeads;
        }
    }

    @Param({"llama1b", "smol135m"})
    public HeadShape shape;

    @Param({"1024", "3584"})
    public int depth;

    @Param({"1", "32"})
    public int queries;

    @Param({"F16", "Q8_0"})
    public GgmlType storage;

    @Param({"16"})
    public int pageSize;

    @Param({"1", "2"})
    public int threads;

    private PagePool pages;
    private PagedKvCache cache;
    private WorkerPool pool;
    private float[] q;
    private float[] out;

    @Setup
    public void setUp() {
        int heads = shape.heads;
        int kvHeads = shape.kvHeads;
        int capacity = depth + queries;
        KvGeometry geometry = new KvGeometry(1, heads, kvHeads, HEAD_DIM, capacity);
        pages = new PagePool(kvHeads, HEAD_DIM, 0, pageSize, storage, (capacity + pageSize - 1) / pageSize);
        cache = new PagedKvCache(pages, geometry);
        SplittableRandom random = new SplittableRandom(3);
        int kvDim = kvHeads * HEAD_DIM;
        float[] k = RandomMatrices.vector(capacity * kvDim, random);
        float[] v = RandomMatrices.vector(capacity * kvDim, random);
        // The cached tokens, then the block that attends: stored up front, as the forward pass stores a block's
        // keys before its queries attend.
        cache.store(0, 0, capacity, k, v);
        q = RandomMatrices.vector(queries * heads * HEAD_DIM, random);
        out = new float[q.length];
        pool = new WorkerPool(threads);
    }

    @TearDown
    public void tearDown() {
        pool.close();
        pages.close();
    }

    @Benchmark
    public float[] attend() {
        cache.attend(0, q, out, depth, queries, pool, null);
        return out;
    }
}
