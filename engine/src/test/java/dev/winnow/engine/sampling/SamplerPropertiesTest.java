package dev.winnow.engine.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

class SamplerPropertiesTest {

    @Provide
    Arbitrary<float[]> logits() {
        return Arbitraries.floats().between(-8f, 8f).array(float[].class).ofMinSize(1).ofMaxSize(60);
    }

    /** Few distinct values, so that maxima are often shared. */
    @Provide
    Arbitrary<float[]> tiedLogits() {
        return Arbitraries.integers().between(-3, 3).map(Integer::floatValue).array(float[].class)
                .ofMinSize(1).ofMaxSize(40);
    }

    @Provide
    Arbitrary<SamplerConfig> randomConfigs() {
        return Combinators.combine(
                Arbitraries.floats().between(0.05f, 3f),
                Arbitraries.integers().between(0, 12),
                Arbitraries.floats().between(0.01f, 1f),
                Arbitraries.floats().between(0f, 1f),
                Arbitraries.longs()
        ).as((temperature, topK, topP, minP, seed) -> new SamplerConfig(temperature, topK, topP, minP, 1f, 0, seed));
    }

    @Property(tries = 300)
    void greedyPicksTheFirstMaximum(@ForAll("tiedLogits") float[] logits) {
        int expected = 0;
        for (int id = 1; id < logits.length; id++) {
            if (logits[id] > logits[expected]) {
                expected = id;
            }
        }
        assertEquals(expected, Sampler.create(SamplerConfig.greedy()).sample(logits));
    }

    @Property(tries = 300)
    void topKOfOneIsGreedy(@ForAll("tiedLogits") float[] logits, @ForAll("randomConfigs") SamplerConfig random) {
        SamplerConfig topOne = new SamplerConfig(random.temperature(), 1, random.topP(), random.minP(), 1f, 0,
                random.seed());
        assertEquals(Sampler.create(SamplerConfig.greedy()).sample(logits), Sampler.create(topOne).sample(logits));
    }

    /** The drawn token survives every filter (checked with a little slack for rounding at the cut-offs). */
    @Property(tries = 500)
    void drawsOnlyTokensThatPassEveryFilter(@ForAll("logits") float[] logits,
                                            @ForAll("randomConfigs") SamplerConfig config) {
        double[] allowed = Reference.distribution(logits, config, 1e-6);
        Sampler sampler = Sampler.create(config);
        for (int draw = 0; draw < 20; draw++) {
            int token = sampler.sample(logits);
            assertTrue(allowed[token] > 0, "token " + token + " was filtered out: " + Arrays.toString(allowed));
        }
    }

    @Property(tries = 100)
    void sameSeedSameTokens(@ForAll("logits") float[] logits, @ForAll("randomConfigs") SamplerConfig config) {
        SamplerConfig penalized = new SamplerConfig(config.temperature(), config.topK(), config.topP(), config.minP(),
                1.3f, 4, config.seed());
        assertArrayEquals(draws(penalized, logits), draws(penalized, logits));
    }

    private static int[] draws(SamplerConfig config, float[] logits) {
        Sampler sampler = Sampler.create(config);
        int[] tokens = new int[30];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = sampler.sample(logits);
            sampler.accept(tokens[i]);
        }
        return tokens;
    }

    /**
     * Over many draws each token's frequency matches its probability after the filters, within five standard
     * deviations of a binomial count (a false alarm about once in a million tokens).
     */
    @Property(tries = 10)
    void frequenciesFollowTheFilteredSoftmax(@ForAll("smallLogits") float[] logits,
                                             @ForAll("randomConfigs") SamplerConfig config) {
        double[] expected = Reference.distribution(logits, config, 0);
        int draws = 20_000;
        int[] counts = new int[logits.length];
        Sampler sampler = Sampler.create(config);
        for (int i = 0; i < draws; i++) {
            counts[sampler.sample(logits)]++;
        }
        for (int id = 0; id < logits.length; id++) {
            double p = expected[id];
            double bound = 5 * Math.sqrt(p * (1 - p) / draws) + 1e-3;
            double frequency = counts[id] / (double) draws;
            assertTrue(Math.abs(frequency - p) <= bound,
                    "token " + id + ": frequency " + frequency + ", probability " + p + ", counts "
                            + Arrays.toString(counts) + ", expected " + Arrays.toString(expected));
        }
    }

    @Provide
    Arbitrary<float[]> smallLogits() {
        return Arbitraries.floats().between(-3f, 3f).array(float[].class).ofMinSize(2).ofMaxSize(8);
    }

    /** The filters restated plainly: the probability of each token after them (0 for filtered-out tokens). */
    static final class Reference {
        private Reference() {
        }

        /** {@code slack} widens top-p and min-p a little, to tolerate rounding at their cut-offs. */
        static double[] distribution(float[] logits, SamplerConfig config, double slack) {
            Integer[] order = IntStream.range(0, logits.length).boxed()
                    .sorted(Comparator.comparingDouble((Integer id) -> -logits[id]).thenComparingInt(id -> id))
                    .toArray(Integer[]::new);
            int kept = config.topK() == 0 ? logits.length : Math.min(config.topK(), logits.length);
            double[] weights = new double[kept];
            double sum = 0;
            for (int rank = 0; rank < kept; rank++) {
                weights[rank] = Math.exp((logits[order[rank]] - logits[order[0]]) / (double) config.temperature());
                sum += weights[rank];
            }
            double cumulative = 0;
            int nucleus = kept;
            for (int rank = 0; rank < kept; rank++) {
                weights[rank] /= sum;
                cumulative += weights[rank];
                if (cumulative >= config.topP() + slack && nucleus == kept) {
                    nucleus = rank + 1;
                }
            }
            double[] result = new double[logits.length];
            double keptSum = 0;
            for (int rank = 0; rank < nucleus; rank++) {
                if (weights[rank] > 0 && weights[rank] >= weights[0] * config.minP() - slack) {
                    result[order[rank]] = weights[rank];
                    keptSum += weights[rank];
                }
            }
            for (int id = 0; id < result.length; id++) {
                result[id] /= keptSum;
            }
            return result;
        }
    }
}
