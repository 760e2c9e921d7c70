package dev.winnow.tests.pruning;

import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.EngineConfig;
import dev.winnow.engine.runtime.Sequence;
import dev.winnow.engine.runtime.SequenceOptions;
import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.pruning.PruningTrace;
import dev.winnow.tests.model.ReferenceLlama;
import dev.winnow.tests.model.TinyLlama;
import net.jqwik.api.Assume;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every pruning policy against a plain restatement of its definition, run by the independent double-precision
 * reference model: after every step each layer's cache holds exactly the set the definition names, decisions
 * are monotone (a dropped token never comes back), and the logits equal the reference's masked attention. For
 * DCP the prompt is read as one block, whose running-product mask must match the step-by-step reference.
 */
class PruningReferenceTest {
    private static final int CONTEXT = 40;
    @Property(tries = 60)
    void dcpMatchesTheRunningProductDefinition(@ForAll @IntRange(min = 1, max = 3) int layers,
                                               @ForAll @IntRange(min = 1, max = 20) int promptLength,
                                               @ForAll @IntRange(min = 2, max = 16) int rank,
                                               @ForAll long seed) throws Exception {
        SplittableRandom random = new SplittableRandom(seed);
        float[] bias = new float[layers];
        for (int l = 0; l < layers; l++) {
            bias[l] = (float) (random.nextDouble() * 0.6 - 0.1);
        }
        TinyLlama tiny = TinyLlama.random(seed, 16, layers, 4, 2, 40, 37, CONTEXT, 4, false)
                .withDcp(TinyLlama.Dcp.random(seed + 1, layers, 16, rank, 0.25, bias));
        DcpDefinition definition = new DcpDefinition(tiny.dcp(), 0);
        check(tiny, new PruningPolicy.Dcp(), definition, promptLength, seed);
        Assume.that(definition.closestCall > 1e-3);
    }

    @Property(tries = 40)
    void dcpWithARecentWindowVotesOnlyOnOlderTokens(@ForAll @IntRange(min = 1, max = 12) int recent,
                                                    @ForAll @IntRange(min = 1, max = 20) int promptLength,
                                                    @ForAll long seed) throws Exception {
        SplittableRandom random = new SplittableRandom(seed);
        float[] bias = {(float) (random.nextDouble() * 0.6 - 0.3), (float) (random.nextDouble() * 0.6 - 0.3)};
        TinyLlama tiny = TinyLlama.random(seed, 16, 2, 4, 2, 40, 37, CONTEXT, 4, false)
                .withDcp(TinyLlama.Dcp.random(seed + 1, 2, 16, 8, 0.25, bias));
        DcpDefinition definition = new DcpDefinition(tiny.dcp(), recent);
        check(tiny, PruningPolicy.parse("dcp:recent=" + recent), definition, promptLength, seed);
        Assume.that(definition.closestCall > 1e-3);
    }

    @Property(tries = 40)
    void windowKeepsTheSinksAndTheLastTokens(@ForAll @IntRange(min = 0, max = 4) int sink,
                                             @ForAll @IntRange(min = 1, max = 12) int window,
                                             @ForAll long seed) throws Exception {
        TinyLlama tiny = TinyLlama.random(seed, 16, 2, 4, 2, 40, 37, CONTEXT, 4, true);
        ReferenceLlama.ReferencePruning definition = new ReferenceLlama.ReferencePruning() {
            @Override
            public void beforeAttention(int layer, int step, double[] normalized, TreeSet<Integer> alive) {
                alive.removeIf(k -> k >= sink && k <= step - window);
            }
        };
        check(tiny, new PruningPolicy.Window(sink, window), definition, 1 + new SplittableRandom(seed).nextInt(20), seed);
    }

    @Property(tries = 40)
    void heavyHittersKeepTheMostAttendedAndTheLastTokens(@ForAll @IntRange(min = 0, max = 8) int budget,
                                                         @ForAll @IntRange(min = 1, max = 6) int window,
                                                         @ForAll long seed) throws Exception {
        TinyLlama tiny = TinyLlama.random(seed, 16, 2, 4, 2, 40, 37, CONTEXT, 4, true);
        EvictionDefinition definition = new EvictionDefinition(true, budget, window);
        check(tiny, new PruningPolicy.HeavyHitters(budget, window), definition, 1, seed);
        Assume.that(definition.closestCall > 1e-5);
    }

    @Property(tries = 40)
    void tovaDropsTheLeastAttendedToken(@ForAll @IntRange(min = 1, max = 12) int budget, @ForAll long seed) throws Exception {
        TinyLlama tiny = TinyLlama.random(seed, 16, 2, 4, 2, 40, 37, CONTEXT, 4, true);
        EvictionDefinition definition = new EvictionDefinition(false, budget, 0);
        check(tiny, new PruningPolicy.Tova(budget), definition, 1, seed);
        Assume.that(definition.closestCall > 1e-5);
    }

    /**
     * Runs the engine (prompt of {@code promptLength} tokens in one block, then one token at a time) and the
     * reference (one token at a time) side by side, checking logits and cache contents after every step.
     */
    private static void check(TinyLlama tiny, PruningPolicy policy, ReferenceLlama.ReferencePruning definition,
                              int promptLength, long seed) throws Exception {
        Path file = Files.createTempFile("tiny-pruned", ".gguf");
        try {
            tiny.write(file);
            SplittableRandom random = new SplittableRandom(seed ^ 0x5DEECE66DL);
            int[] tokens = random.ints(CONTEXT, 0, tiny.vocab()).toArray();
            ReferenceLlama reference = new ReferenceLlama(tiny, definition);
            try (Model model = Model.load(file);
                 Engine engine = new Engine(model, new EngineConfig(2, CONTEXT,
                         new KvCacheConfig(3, dev.winnow.tensors.GgmlType.F32, null), policy, 1))) {
                PruningTrace trace = new PruningTrace(tiny.layers());
                Sequence session = engine.newSequence(SequenceOptions.forced(trace));
                PagedKvCache cache = session.cache();
                List<TreeSet<Integer>> previous = new ArrayList<>();
                for (int l = 0; l < tiny.layers(); l++) {
                    previous.add(new TreeSet<>());
                }
                double[] expected = null;
                for (int p = 0; p < promptLength; p++) {
                    expected = reference.forward(tokens[p], p);
                }
                float[] logits = session.prefill(java.util.Arrays.copyOf(tokens, promptLength));
                compare(expected, logits, reference, cache, previous, promptLength - 1);
                for (int p = promptLength; p < CONTEXT; p++) {
                    expected = reference.forward(tokens[p], p);
                    logits = session.feed(tokens[p]);
                    compare(expected, logits, reference, cache, previous, p);
                }
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }

    private static void compare(double[] expected, float[] actual, ReferenceLlama reference, PagedKvCache cache,
                                List<TreeSet<Integer>> previous, int step) {
        for (int l = 0; l < previous.size(); l++) {
            int[] held = cache.positions(l);
            int[] defined = reference.alive(l).stream().mapToInt(Integer::intValue).toArray();
            assertArrayEquals(defined, held, "layer %d after step %d holds the wrong tokens".formatted(l, step));
            TreeSet<Integer> now = reference.alive(l).stream().collect(Collectors.toCollection(TreeSet::new));
            for (int k : now) {
                assertTrue(k > previous.get(l).stream().mapToInt(Integer::intValue).max().orElse(-1) || previous.get(l).contains(k),
                        "layer %d: token %d came back after being dropped".formatted(l, k));
            }
            previous.set(l, now);
        }
        double scale = 1;
        for (double e : expected) {
            scale = Math.max(scale, Math.abs(e));
        }
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-4 * scale, "logit %d at step %d".formatted(i, step));
        }
    }

    /**
     * DCP by its definition: token k stays while every later query of the layer voted dot(qi, ki)/sqrt(r) + beta > 0,
     * counting only the queries more than {@code recent} positions after k.
     */
    private static final class DcpDefinition implements ReferenceLlama.ReferencePruning {
        private final TinyLlama.Dcp module;
        private final int recent;
        private final Map<Integer, Map<Integer, double[]>> interactionKeys = new java.util.HashMap<>();
        double closestCall = Double.POSITIVE_INFINITY;

        DcpDefinition(TinyLlama.Dcp module, int recent) {
            this.module = module;
            this.recent = recent;
        }

        @Override
        public void beforeAttention(int layer, int step, double[] h, TreeSet<Integer> alive) {
            double[] qi = project(module.queries()[layer], h);
            interactionKeys.computeIfAbsent(layer, l -> new java.util.HashMap<>()).put(step, project(module.keys()[layer], h));
            alive.removeIf(k -> {
                if (k >= step - recent) {
                    return false;
                }
                double[] ki = interactionKeys.get(layer).get(k);
                double s = 0;
                for (int i = 0; i < qi.length; i++) {
                    s += qi[i] * ki[i];
                }
                s = s / Math.sqrt(module.rank()) + module.bias()[layer];
                closestCall = Math.min(closestCall, Math.abs(s));
                return s <= 0;
            });
        }

        private double[] project(float[] w, double[] h) {
            double[] out = new double[module.rank()];
            for (int r = 0; r < out.length; r++) {
                for (int c = 0; c < h.length; c++) {
                    out[r] += w[r * h.length + c] * h[c];
                }
            }
            return out;
        }
    }

    /**
     * H2O (accumulated attention, the last {@code window} protected, keep {@code budget} others) or TOVA (this
     * step's attention, keep {@code budget} of all): evict the lowest, the older first on ties.
     */
    private static final class EvictionDefinition implements ReferenceLlama.ReferencePruning {
        private final boolean accumulate;
        private final int budget;
        private final int window;
        private final Map<Integer, Map<Integer, Double>> accumulated = new java.util.HashMap<>();
        double closestCall = Double.POSITIVE_INFINITY;

        EvictionDefinition(boolean accumulate, int budget, int window) {
            this.accumulate = accumulate;
            this.budget = budget;
            this.window = window;
        }

        @Override
        public void afterAttention(int layer, int step, Map<Integer, Double> weights, TreeSet<Integer> alive) {
            Map<Integer, Double> score = accumulated.computeIfAbsent(layer, l -> new java.util.HashMap<>());
            if (accumulate) {
                weights.forEach((k, w) -> score.merge(k, w, Double::sum));
            } else {
                score.clear();
                score.putAll(weights);
            }
            List<Integer> candidates = alive.stream().filter(k -> k <= step - window).sorted((a, b) -> {
                int byScore = Double.compare(score.getOrDefault(a, 0.0), score.getOrDefault(b, 0.0));
                return byScore != 0 ? byScore : Integer.compare(a, b);
            }).toList();
            int excess = candidates.size() - budget;
            if (excess > 0) {
                if (excess < candidates.size()) {
                    closestCall = Math.min(closestCall, Math.abs(score.getOrDefault(candidates.get(excess), 0.0)
                            - score.getOrDefault(candidates.get(excess - 1), 0.0)));
                }
                candidates.subList(0, excess).forEach(alive::remove);
            }
        }
    }
}
