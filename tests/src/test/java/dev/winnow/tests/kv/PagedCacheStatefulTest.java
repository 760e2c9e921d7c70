package dev.winnow.tests.kv;

import dev.winnow.engine.kv.KvCacheFullException;
import dev.winnow.engine.kv.KvGeometry;
import dev.winnow.engine.kv.PagePool;
import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.tensors.GgmlType;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.state.Action;
import net.jqwik.api.state.ActionChain;
import net.jqwik.api.state.Transformer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Random interleavings of write, drop, fork and free over several sequences sharing one small page pool, checked
 * against a plain model of what each layer of each sequence should hold. After every step: no live token is lost
 * or changed, no slot or page leaks, empty pages are back in the pool, the budget holds. Each write checks that
 * a free slot is reused before a new page is taken, and a refused write happens only when the budget is spent.
 */
class PagedCacheStatefulTest {
    private static final int LAYERS = 3;
    private static final int KV_HEADS = 2;
    private static final int HEAD_DIM = 4;
    private static final int MAX_PAGES = 14;

    /** The system under test and the model of what it must hold. */
    static final class PoolModel {
        final PagePool pool;
        final GgmlType storage;
        final List<Sequence> sequences = new ArrayList<>();
        int created;

        PoolModel(int pageSize, GgmlType storage) {
            this.pool = new PagePool(KV_HEADS, HEAD_DIM, 0, pageSize, storage, MAX_PAGES);
            this.storage = storage;
        }

        @Override
        public String toString() {
            return "pool(page size %d, %s, %d sequences, %d/%d pages)".formatted(pool.pageSize(), storage,
                    sequences.size(), pool.pagesInUse(), MAX_PAGES);
        }
    }

    /** One sequence: its cache, and per layer the expected contents position -> (k, v). */
    static final class Sequence {
        final String name;
        final PagedKvCache cache;
        final List<TreeMap<Integer, float[][]>> expected = new ArrayList<>();
        final int[] nextPosition = new int[LAYERS];

        Sequence(String name, PagedKvCache cache) {
            this.name = name;
            this.cache = cache;
            for (int l = 0; l < LAYERS; l++) {
                expected.add(new TreeMap<>());
            }
        }
    }

    @Property(tries = 500)
    void randomOperationSequences(@ForAll("chains") ActionChain<PoolModel> chain) {
        chain.withInvariant("contents", PagedCacheStatefulTest::contentsMatch)
                .withInvariant("no leaks", PagedCacheStatefulTest::noLeaks)
                .run();
    }

    @Provide
    Arbitrary<ActionChain<PoolModel>> chains() {
        return Combinators.combine(Arbitraries.integers().between(1, 5), Arbitraries.of(GgmlType.F32, GgmlType.F16))
                .flatAs((pageSize, storage) -> ActionChain.<PoolModel>startWith(() -> new PoolModel(pageSize, storage))
                        .withAction(1, new Create())
                        .withAction(6, new Write())
                        .withAction(3, new Drop())
                        .withAction(1, new Fork())
                        .withAction(1, new Free())
                        .withMaxTransformations(60));
    }

    static final class Create implements Action.Independent<PoolModel> {
        @Override
        public boolean precondition(PoolModel m) {
            return m.sequences.size() < 4;
        }

        @Override
        public Arbitrary<Transformer<PoolModel>> transformer() {
            return Arbitraries.just(Transformer.mutate("create", m -> {
                m.sequences.add(new Sequence("s" + m.created++,
                        new PagedKvCache(m.pool, new KvGeometry(LAYERS, KV_HEADS, KV_HEADS, HEAD_DIM, 1 << 20))));
            }));
        }
    }

    static final class Write implements Action.Dependent<PoolModel> {
        @Override
        public boolean precondition(PoolModel m) {
            return !m.sequences.isEmpty();
        }

        @Override
        public Arbitrary<Transformer<PoolModel>> transformer(PoolModel state) {
            return Combinators.combine(Arbitraries.integers().between(0, state.sequences.size() - 1),
                            Arbitraries.integers().between(0, LAYERS - 1), Arbitraries.longs())
                    .as((s, layer, seed) -> Transformer.mutate(
                            "write %s layer %d".formatted(state.sequences.get(s).name, layer),
                            m -> write(m, m.sequences.get(s), layer, seed)));
        }

        private static void write(PoolModel m, Sequence seq, int layer, long seed) {
            int kvDim = KV_HEADS * HEAD_DIM;
            SplittableRandom random = new SplittableRandom(seed);
            float[] k = new float[kvDim];
            float[] v = new float[kvDim];
            for (int i = 0; i < kvDim; i++) {
                k[i] = (float) random.nextGaussian();
                v[i] = (float) random.nextGaussian();
            }
            int freeBefore = seq.cache.stats(layer).freeSlots();
            int pagesBefore = m.pool.pagesInUse();
            int position = seq.nextPosition[layer];
            try {
                seq.cache.store(layer, position, 1, k, v);
            } catch (KvCacheFullException full) {
                assertEquals(0, freeBefore, "refused although the layer had a free slot");
                assertEquals(MAX_PAGES, m.pool.pagesInUse(), "refused although the budget had pages left");
                assertTrue(full.getMessage().contains("--kv-budget"), full.getMessage());
                return;
            }
            seq.nextPosition[layer]++;
            seq.expected.get(layer).put(position, new float[][] {stored(m, k), stored(m, v)});
            assertEquals(freeBefore > 0 ? pagesBefore : pagesBefore + 1, m.pool.pagesInUse(),
                    "a free slot must be reused before a new page is taken");
        }

        /** What the storage type keeps of the values. */
        private static float[] stored(PoolModel m, float[] values) {
            float[] out = values.clone();
            if (m.storage == GgmlType.F16) {
                for (int i = 0; i < out.length; i++) {
                    out[i] = Float.float16ToFloat(Float.floatToFloat16(out[i]));
                }
            }
            return out;
        }
    }

    static final class Drop implements Action.Dependent<PoolModel> {
        @Override
        public boolean precondition(PoolModel m) {
            return m.sequences.stream().anyMatch(s -> s.expected.stream().anyMatch(e -> !e.isEmpty()));
        }

        @Override
        public Arbitrary<Transformer<PoolModel>> transformer(PoolModel state) {
            List<int[]> held = new ArrayList<>();
            for (int s = 0; s < state.sequences.size(); s++) {
                for (int l = 0; l < LAYERS; l++) {
                    for (int position : state.sequences.get(s).expected.get(l).keySet()) {
                        held.add(new int[] {s, l, position});
                    }
                }
            }
            return Arbitraries.of(held).map(h -> Transformer.mutate(
                    "drop %s layer %d position %d".formatted(state.sequences.get(h[0]).name, h[1], h[2]),
                    m -> {
                        Sequence seq = m.sequences.get(h[0]);
                        assertTrue(seq.cache.drop(h[1], h[2]));
                        seq.expected.get(h[1]).remove(h[2]);
                        assertTrue(!seq.cache.drop(h[1], h[2]), "a dropped token cannot be dropped twice");
                    }));
        }
    }

    static final class Fork implements Action.Dependent<PoolModel> {
        @Override
        public boolean precondition(PoolModel m) {
            return !m.sequences.isEmpty() && m.sequences.size() < 4;
        }

        @Override
        public Arbitrary<Transformer<PoolModel>> transformer(PoolModel state) {
            return Arbitraries.integers().between(0, state.sequences.size() - 1).map(s -> Transformer.mutate(
                    "fork " + state.sequences.get(s).name,
                    m -> {
                        Sequence from = m.sequences.get(s);
                        int pagesBefore = m.pool.pagesInUse();
                        PagedKvCache copy;
                        try {
                            copy = from.cache.fork();
                        } catch (KvCacheFullException full) {
                            assertEquals(pagesBefore, m.pool.pagesInUse(), "a refused fork must give back its pages");
                            return;
                        }
                        Sequence forked = new Sequence("s" + m.created++, copy);
                        for (int l = 0; l < LAYERS; l++) {
                            forked.expected.get(l).putAll(from.expected.get(l));
                            forked.nextPosition[l] = from.nextPosition[l];
                        }
                        m.sequences.add(forked);
                    }));
        }
    }

    static final class Free implements Action.Dependent<PoolModel> {
        @Override
        public boolean precondition(PoolModel m) {
            return !m.sequences.isEmpty();
        }

        @Override
        public Arbitrary<Transformer<PoolModel>> transformer(PoolModel state) {
            return Arbitraries.integers().between(0, state.sequences.size() - 1).map(s -> Transformer.mutate(
                    "free " + state.sequences.get(s).name,
                    m -> {
                        Sequence seq = m.sequences.remove((int) s);
                        int held = 0;
                        for (int l = 0; l < LAYERS; l++) {
                            held += seq.cache.stats(l).pages();
                        }
                        int before = m.pool.pagesInUse();
                        seq.cache.clear();
                        assertEquals(before - held, m.pool.pagesInUse(), "freeing a sequence returns every page");
                    }));
        }
    }

    private static void contentsMatch(PoolModel m) {
        float[] k = new float[KV_HEADS * HEAD_DIM];
        float[] v = new float[KV_HEADS * HEAD_DIM];
        for (Sequence seq : m.sequences) {
            for (int l = 0; l < LAYERS; l++) {
                TreeMap<Integer, float[][]> expected = seq.expected.get(l);
                assertArrayEquals(expected.keySet().stream().mapToInt(Integer::intValue).toArray(), seq.cache.positions(l),
                        seq.name + " layer " + l + " holds the wrong tokens");
                for (var e : expected.entrySet()) {
                    seq.cache.read(l, e.getKey(), k, v);
                    assertArrayEquals(e.getValue()[0], k, seq.name + " key changed at position " + e.getKey());
                    assertArrayEquals(e.getValue()[1], v, seq.name + " value changed at position " + e.getKey());
                }
            }
        }
    }

    private static void noLeaks(PoolModel m) {
        int pages = 0;
        for (Sequence seq : m.sequences) {
            for (int l = 0; l < LAYERS; l++) {
                int[] occupancy = seq.cache.pageOccupancy(l);
                assertTrue(Arrays.stream(occupancy).allMatch(o -> o >= 1 && o <= m.pool.pageSize()),
                        "every held page has a live slot: " + Arrays.toString(occupancy));
                var stats = seq.cache.stats(l);
                assertEquals(seq.expected.get(l).size(), Arrays.stream(occupancy).sum(), "live slots = live tokens");
                assertEquals(occupancy.length * m.pool.pageSize(), stats.liveTokens() + stats.freeSlots(),
                        "held slots = live + free in held pages");
                pages += occupancy.length;
            }
        }
        assertEquals(pages, m.pool.pagesInUse(), "pages held by sequences = pages in use in the pool");
        assertTrue(m.pool.pagesInUse() <= MAX_PAGES, "budget exceeded");
    }
}
