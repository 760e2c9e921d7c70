package dev.winnow.tests.kv;

import dev.winnow.engine.kv.KvGeometry;
import dev.winnow.engine.kv.PagePool;
import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tensors.Quantize;
import dev.winnow.tensors.WorkerPool;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Paged attention equals a straightforward dense masked attention in double precision over the same kept tokens,
 * for random head counts (grouped-query included), head widths, page sizes, sequence lengths, dropped tokens,
 * storage types and blocks of causal queries. The reference reads the values the storage type keeps
 * (F16 or Q8_0 rounding), so the tolerance is the same tight one for every type: 1e-5 relative to the largest
 * value magnitude. Long sequences (up to 1,500 tokens) span several token ranges of the cache's flash-decoding
 * split for heads of 32 and 64 values (ranges of 512 and 256 slots).
 */
class PagedAttentionEquivalenceTest {
    /** Pools of 1, 2 and 3 threads, at index threads - 1. */
    private static final WorkerPool[] POOLS = new WorkerPool[3];
    private static WorkerPool workers;

    @BeforeContainer
    static void start() {
        for (int t = 0; t < POOLS.length; t++) {
            POOLS[t] = new WorkerPool(t + 1);
        }
        workers = POOLS[1];
    }

    @AfterContainer
    static void stop() {
        for (WorkerPool pool : POOLS) {
            pool.close();
        }
    }

    /** A sequence length: short (within one token range) or long (several ranges for wide heads), half and half. */
    private static int length(boolean longSequence, int shortLength, SplittableRandom random) {
        return longSequence ? 200 + random.nextInt(1300) : shortLength;
    }

    @Property(tries = 1000)
    void pagedAttentionEqualsDenseReference(@ForAll @IntRange(min = 1, max = 3) int kvHeads,
                                            @ForAll @IntRange(min = 1, max = 3) int group,
                                            @ForAll @IntRange(min = 0, max = 4) int headDimChoice,
                                            @ForAll @IntRange(min = 1, max = 20) int pageSize,
                                            @ForAll @IntRange(min = 1, max = 70) int shortLength,
                                            @ForAll boolean longSequence,
                                            @ForAll @IntRange(min = 1, max = 4) int queries,
                                            @ForAll @IntRange(min = 0, max = 90) int dropPercent,
                                            @ForAll @IntRange(min = 0, max = 2) int storageChoice,
                                            @ForAll long seed) {
        int headDim = HEAD_DIMS[headDimChoice];
        GgmlType storage = storage(storageChoice, headDim);
        int heads = kvHeads * group;
        int kvDim = kvHeads * headDim;
        SplittableRandom random = new SplittableRandom(seed);
        int length = length(longSequence, shortLength, random);
        int count = Math.min(queries, length);
        int firstQuery = length - count;

        KvGeometry geometry = new KvGeometry(1, heads, kvHeads, headDim, length);
        try (PagePool pool = new PagePool(kvHeads, headDim, 0, pageSize, storage, 1 + length)) {
            PagedKvCache cache = new PagedKvCache(pool, geometry);
            float[] keys = gaussian(random, length * kvDim);
            float[] values = gaussian(random, length * kvDim);
            cache.store(0, 0, length, keys, values);
            boolean[] kept = new boolean[length];
            for (int t = 0; t < length; t++) {
                kept[t] = t >= firstQuery || random.nextInt(100) >= dropPercent;
                if (!kept[t]) {
                    cache.drop(0, t);
                }
            }
            float[] q = gaussian(random, count * heads * headDim);
            float[] out = new float[q.length];
            cache.attend(0, q, out, firstQuery, count, workers, null);

            double[] storedKeys = stored(storage, keys, headDim);
            double[] storedValues = stored(storage, values, headDim);
            double tolerance = 1e-5 * maxAbs(storedValues);
            for (int i = 0; i < count; i++) {
                for (int h = 0; h < heads; h++) {
                    double[] expected = reference(q, (i * heads + h) * headDim, storedKeys, storedValues, kept,
                            firstQuery + i, (h / group) * headDim, kvDim, headDim);
                    for (int d = 0; d < headDim; d++) {
                        double actual = out[(i * heads + h) * headDim + d];
                        assertTrue(Math.abs(actual - expected[d]) <= tolerance,
                                "query %d head %d dim %d (%s, page size %d): expected %.7f got %.7f".formatted(
                                        i, h, d, storage, pageSize, expected[d], actual));
                    }
                }
            }
        }
    }

    /**
     * A block of queries (up to 130, so the block is cut into pieces across threads) gives each query, to the bit,
     * what that query gets attending alone on 1, 2 or 3 threads: a prompt block and decode steps agree, whether a
     * decode step's token ranges run on one thread or several. Tokens are dropped and others hidden from a position
     * inside the block, so queries of one block see different tokens.
     */
    @Property(tries = 200)
    void aBlockGivesEachQueryWhatItGetsAlone(@ForAll @IntRange(min = 1, max = 3) int kvHeads,
                                            @ForAll @IntRange(min = 1, max = 3) int group,
                                            @ForAll @IntRange(min = 0, max = 4) int headDimChoice,
                                            @ForAll @IntRange(min = 0, max = 2) int storageChoice,
                                            @ForAll @IntRange(min = 1, max = 64) int pageSize,
                                            @ForAll @IntRange(min = 1, max = 130) int count,
                                            @ForAll @IntRange(min = 0, max = 200) int shortBefore,
                                            @ForAll boolean longSequence,
                                            @ForAll @IntRange(min = 1, max = 3) int threads,
                                            @ForAll long seed) {
        int headDim = HEAD_DIMS[headDimChoice];
        GgmlType storage = storage(storageChoice, headDim);
        int heads = kvHeads * group;
        SplittableRandom random = new SplittableRandom(seed);
        int before = length(longSequence, shortBefore, random);
        int length = before + count;
        KvGeometry geometry = new KvGeometry(1, heads, kvHeads, headDim, length);
        try (PagePool pool = new PagePool(kvHeads, headDim, 0, pageSize, storage, 1 + length)) {
            PagedKvCache cache = new PagedKvCache(pool, geometry);
            cache.store(0, 0, length, gaussian(random, length * kvHeads * headDim), gaussian(random, length * kvHeads * headDim));
            for (int t = 0; t < before; t++) {
                if (random.nextInt(4) == 0) {
                    cache.drop(0, t);
                }
            }
            for (var tokens = cache.liveTokens(0); tokens.next(); ) {
                if (random.nextInt(5) == 0) {
                    cache.hideFrom(tokens.slot(), before + random.nextInt(count));
                }
            }
            float[] q = gaussian(random, count * heads * headDim);
            float[] block = new float[q.length];
            cache.attend(0, q, block, before, count, workers, null);
            int row = heads * headDim;
            for (int i = 0; i < count; i++) {
                float[] alone = new float[row];
                cache.attend(0, Arrays.copyOfRange(q, i * row, (i + 1) * row), alone, before + i, 1,
                        POOLS[threads - 1], null);
                for (int x = 0; x < row; x++) {
                    assertTrue(Float.floatToIntBits(alone[x]) == Float.floatToIntBits(block[i * row + x]),
                            "query %d of %d at %d, value %d (%s, page size %d, %d threads): alone %s, in the block %s"
                                    .formatted(i, count, before + i, x, storage, pageSize, threads, alone[x],
                                            block[i * row + x]));
                }
            }
        }
    }

    private static final int[] HEAD_DIMS = {4, 8, 12, 32, 64};

    /** F32, F16 or Q8_0 by choice, F16 where Q8_0's blocks do not fit the head width. */
    private static GgmlType storage(int choice, int headDim) {
        GgmlType storage = new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.Q8_0}[choice];
        return headDim % storage.blockSize() == 0 ? storage : GgmlType.F16;
    }

    /** softmax(q . k_t / sqrt(d)) v_t over the kept tokens t <= position, in double precision. */
    private static double[] reference(float[] q, int qOffset, double[] k, double[] v, boolean[] kept, int position,
                                      int headOffset, int kvDim, int headDim) {
        double max = Double.NEGATIVE_INFINITY;
        double[] scores = new double[position + 1];
        for (int t = 0; t <= position; t++) {
            if (!kept[t]) {
                continue;
            }
            double s = 0;
            for (int d = 0; d < headDim; d++) {
                s += q[qOffset + d] * k[t * kvDim + headOffset + d];
            }
            scores[t] = s / Math.sqrt(headDim);
            max = Math.max(max, scores[t]);
        }
        double sum = 0;
        double[] out = new double[headDim];
        for (int t = 0; t <= position; t++) {
            if (kept[t]) {
                double w = Math.exp(scores[t] - max);
                sum += w;
                for (int d = 0; d < headDim; d++) {
                    out[d] += w * v[t * kvDim + headOffset + d];
                }
            }
        }
        for (int d = 0; d < headDim; d++) {
            out[d] /= sum;
        }
        return out;
    }

    /** The values as the storage type keeps them, one head row at a time. */
    private static double[] stored(GgmlType type, float[] x, int headDim) {
        float[] roundTrip = new float[x.length];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(type.rowBytes(headDim));
            for (int off = 0; off < x.length; off += headDim) {
                Quantize.quantize(type, x, off, headDim, buffer, 0);
                Quantize.dequantize(type, buffer, 0, roundTrip, off, headDim);
            }
        }
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = roundTrip[i];
        }
        return out;
    }

    private static float[] gaussian(SplittableRandom random, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian();
        }
        return x;
    }

    private static double maxAbs(double[] x) {
        double m = 1e-30;
        for (double v : x) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }
}
