package dev.winnow.benchmarks;

import dev.winnow.engine.kv.KvGeometry;
import dev.winnow.engine.kv.PagePool;
import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.engine.model.LlamaModel;
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

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Attention of one layer over the paged KV cache ({@link PagedKvCache#attend}) with the heads of Llama-3.2-1B
 * ({@code llama1b}: 32 query heads, 8 KV heads of 64), SmolLM-135M ({@code smol135m}: 9 query heads, 3 KV heads
 * of 64) or stories260K ({@code stories260k}: 8 query heads, 4 KV heads of 8, narrow enough that the values are
 * weighted by column): {@code queries} new tokens (1 for a decode step, 32 for a prompt block) attending to {@code depth}
 * cached ones. Time per call; a decode step makes one call per layer. With {@code layers} above 1 the calls cycle
 * through that many layers' caches, stored as a prompt stores them (blocks of {@link LlamaModel#DEFAULT_BLOCK}
 * tokens, layer after layer within a block), so that their pages lie in memory as a real decode step finds them and
 * a call reads its layer from memory, not from a cache that the previous call warmed (30 layers of the 135M shape
 * at d3584 hold 82 MB).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseParallelGC"})
public class AttentionBenchmark {
    /** A model's attention heads: query heads and KV heads, of headDim values each. */
    public enum HeadShape {
        llama1b(32, 8, 64), smol135m(9, 3, 64), stories260k(8, 4, 8);

        final int heads;
        final int kvHeads;
        final int headDim;

        HeadShape(int heads, int kvHeads, int headDim) {
            this.heads = heads;
            this.kvHeads = kvHeads;
            this.headDim = headDim;
        }
    }

    @Param({"llama1b", "smol135m", "stories260k"})
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

    /** Layers the calls cycle through: 1 measures the kernel in cache, 30 (the 135M shape's) a decode step's reads. */
    @Param({"1"})
    public int layers;

    private PagePool pages;
    private PagedKvCache cache;
    private WorkerPool pool;
    private float[] q;
    private float[] out;
    private int layer;

    @Setup
    public void setUp() {
        int heads = shape.heads;
        int kvHeads = shape.kvHeads;
        int capacity = depth + queries;
        KvGeometry geometry = new KvGeometry(layers, heads, kvHeads, shape.headDim, capacity);
        pages = new PagePool(kvHeads, shape.headDim, 0, pageSize, storage, layers * ((capacity + pageSize - 1) / pageSize));
        cache = new PagedKvCache(pages, geometry);
        SplittableRandom random = new SplittableRandom(3);
        int kvDim = kvHeads * shape.headDim;
        float[] k = RandomMatrices.vector(capacity * kvDim, random);
        float[] v = RandomMatrices.vector(capacity * kvDim, random);
        // The cached tokens, then the block that attends: stored up front, as the forward pass stores a block's
        // keys before its queries attend. Every layer holds the same keys and values.
        for (int first = 0; first < capacity; first += LlamaModel.DEFAULT_BLOCK) {
            int count = Math.min(LlamaModel.DEFAULT_BLOCK, capacity - first);
            float[] blockKeys = Arrays.copyOfRange(k, first * kvDim, (first + count) * kvDim);
            float[] blockValues = Arrays.copyOfRange(v, first * kvDim, (first + count) * kvDim);
            for (int l = 0; l < layers; l++) {
                cache.store(l, first, count, blockKeys, blockValues);
            }
        }
        q = RandomMatrices.vector(queries * heads * shape.headDim, random);
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
        layer = (layer + 1) % layers;
        cache.attend(layer, q, out, depth, queries, pool, null);
        return out;
    }
}
