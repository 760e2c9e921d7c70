package dev.winnow.tests.runtime;

import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.EngineConfig;
import dev.winnow.engine.runtime.Sequence;
import dev.winnow.engine.runtime.SequenceOptions;
import dev.winnow.engine.sampling.Sampler;
import dev.winnow.engine.sampling.SamplerConfig;
import dev.winnow.tests.model.TinyLlama;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * {@link Engine#sampleNext} picks, for each sequence of a batch, the token that sequence picks by itself with
 * {@link Sequence#sampleNext()}: whatever sequences it is sampled beside, however many worker threads share them,
 * with any mix of greedy and seeded random samplers (top-k, top-p, min-p, repetition penalty).
 */
class BatchSamplingProperties {
    private static final int VOCAB = 300;
    private static final int CONTEXT = 40;

    @Property(tries = 40)
    void eachSequencePicksWhatItPicksAlone(@ForAll @IntRange(min = 1, max = 8) int sequences,
                                           @ForAll @IntRange(min = 1, max = 3) int threads,
                                           @ForAll @IntRange(min = 1, max = 12) int steps,
                                           @ForAll long seed) throws Exception {
        Path file = Files.createTempFile("batch-sampling", ".gguf");
        try (AutoCloseable deleted = () -> Files.deleteIfExists(file)) {
            TinyLlama.random(seed, 32, 1, 4, 2, 67, VOCAB, CONTEXT, 4, true).write(file);
            SplittableRandom random = new SplittableRandom(seed);
            SamplerConfig[] configs = new SamplerConfig[sequences];
            int[][] prompts = new int[sequences][];
            for (int q = 0; q < sequences; q++) {
                configs[q] = randomConfig(random);
                prompts[q] = random.ints(1 + random.nextInt(6), 3, VOCAB).toArray();
            }
            try (Model model = Model.load(file);
                 Engine alone = new Engine(model, EngineConfig.single(1, CONTEXT, new PruningPolicy.None()));
                 Engine batch = new Engine(model, new EngineConfig(threads, CONTEXT,
                         KvCacheConfig.defaults(), new PruningPolicy.None(), sequences))) {
                String[][] expected = new String[sequences][];
                Sequence[] lone = new Sequence[sequences];
                for (int q = 0; q < sequences; q++) {
                    Sequence sequence = alone.newSequence(options(configs[q]));
                    lone[q] = sequence;
                    sequence.prefill(prompts[q]);
                    expected[q] = new String[steps];
                    for (int step = 0; step < steps; step++) {
                        expected[q][step] = sequence.sampleNext();
                        if (step + 1 < steps) {
                            sequence.step();
                        }
                    }
                    sequence.suspend(); // its pages back for the next one; its tokens stay
                }
                Sequence[] rows = new Sequence[sequences];
                for (int q = 0; q < sequences; q++) {
                    rows[q] = batch.newSequence(options(configs[q]));
                    rows[q].acceptPrompt(prompts[q]);
                }
                batch.step(rows, sequences); // the prompts in one pass: the logits of a pass last until the next
                String[] pieces = new String[sequences];
                RuntimeException[] failures = new RuntimeException[sequences];
                for (int step = 0; step < steps; step++) {
                    batch.sampleNext(rows, sequences, pieces, failures);
                    for (int q = 0; q < sequences; q++) {
                        assertNull(failures[q]);
                        assertEquals(expected[q][step], pieces[q], "sequence " + q + ", step " + step);
                    }
                    if (step + 1 < steps) {
                        batch.step(rows, sequences);
                    }
                }
                for (int q = 0; q < sequences; q++) {
                    assertArrayEquals(tokens(lone[q]), tokens(rows[q]), "the tokens of sequence " + q);
                }
            }
        }
    }

    private static int[] tokens(Sequence sequence) {
        int[] tokens = new int[sequence.length()];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = sequence.token(i);
        }
        return tokens;
    }

    private static SequenceOptions options(SamplerConfig config) {
        return SequenceOptions.of(Sampler.create(config), token -> false);
    }

    private static SamplerConfig randomConfig(SplittableRandom random) {
        if (random.nextInt(4) == 0) {
            return SamplerConfig.greedy();
        }
        return new SamplerConfig(0.3f + random.nextFloat() * 1.2f, random.nextBoolean() ? 0 : 1 + random.nextInt(20),
                random.nextBoolean() ? 1f : 0.5f + random.nextFloat() * 0.5f, random.nextBoolean() ? 0f : 0.05f,
                random.nextBoolean() ? 1f : 1.3f, 16, random.nextLong());
    }
}
