package dev.winnow.tests.runtime;

import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.EngineConfig;
import dev.winnow.engine.runtime.Sequence;
import dev.winnow.engine.runtime.SequenceOptions;
import dev.winnow.engine.sampling.Sampler;
import dev.winnow.engine.sampling.SamplerConfig;
import dev.winnow.tests.SharedFiles;
import dev.winnow.tests.cli.CliRunner;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * What the server does to a sequence leaves it exactly where reading it alone would have, for every pruning
 * policy: the same tokens kept in every layer with the same keys and values, and the same tokens generated after
 * it. A preempted sequence (its pages given back, everything read again when there is room, then on) ends as
 * uninterrupted decoding does, sharing its decode steps with another sequence; a prompt read block by block
 * inside {@link Engine#step}s, beside other sequences' decode rows and prompt blocks (chunked prefill), ends as
 * {@link Sequence#prefill} alone does. On stories260K with a random DCP module.
 */
class PreemptionEquivalenceProperties {
    private static final int CONTEXT = 400;
    /** Sequences that read beside the one whose prompt is read in steps. */
    private static final int NEIGHBOURS = 3;
    private static Path adapterDir;
    private static Model model;

    @BeforeContainer
    static void load() throws IOException {
        Path base = SharedFiles.requireShared("models/stories260K.gguf");
        adapterDir = Files.createTempDirectory("preemption");
        Path adapter = adapterDir.resolve("module.gguf");
        CliRunner.Run init = CliRunner.run("dcp-init", "-m", base.toString(), "-o", adapter.toString(), "--rank", "8",
                "--std", "0.1", "--bias", "1", "--seed", "3");
        assertEquals(0, init.exitCode(), init.err());
        model = Model.load(base, adapter);
    }

    @AfterContainer
    static void close() throws IOException {
        if (model != null) {
            model.close();
        }
        if (adapterDir != null) {
            Files.deleteIfExists(adapterDir.resolve("module.gguf"));
            Files.deleteIfExists(adapterDir);
        }
    }

    @Provide
    Arbitrary<PruningPolicy> policies() {
        return Arbitraries.of(new PruningPolicy.None(), new PruningPolicy.Window(4, 16),
                new PruningPolicy.HeavyHitters(8, 8), new PruningPolicy.Tova(24), new PruningPolicy.Dcp(),
                PruningPolicy.parse("dcp:budget=24"), PruningPolicy.parse("dcp:keep=0.4"));
    }

    @Property(tries = 35)
    void aPreemptedSequenceResumesWithTheCacheOfOneThatRanThrough(@ForAll("policies") PruningPolicy policy,
                                                                  @ForAll @IntRange(min = 1, max = 300) int promptLength,
                                                                  @ForAll @IntRange(min = 1, max = 40) int generated,
                                                                  @ForAll @IntRange(min = 0, max = 40) int preemptAfter,
                                                                  @ForAll long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int[] prompt = random.ints(promptLength, 0, model.config().vocabularySize()).toArray();
        SamplerConfig sampling = new SamplerConfig(0.8f, 40, 0.95f, 0.05f, 1.1f, 64, seed);
        try (Engine engine = new Engine(model, new EngineConfig(2, CONTEXT,
                KvCacheConfig.defaults(), policy, 3))) {
            Sequence through = engine.newSequence(SequenceOptions.of(Sampler.create(sampling), token -> false));
            Sequence preempted = engine.newSequence(SequenceOptions.of(Sampler.create(sampling), token -> false));
            Sequence neighbour = engine.newSequence(SequenceOptions.of(Sampler.create(sampling), token -> false));
            Sequence[] alone = {through};
            Sequence[] pair = {preempted, neighbour};
            start(through, prompt);
            start(preempted, prompt);
            start(neighbour, new int[] {1});
            int[] expected = new int[generated];
            int[] actual = new int[generated];
            for (int i = 0; i < generated; i++) {
                if (i == Math.min(preemptAfter, generated - 1)) {
                    preempted.suspend();
                    while (!preempted.readBlock()) {
                        // the prompt again, block by block
                    }
                }
                do {
                    // after the preemption: the generated tokens again, one per step as the first time
                    engine.step(pair, 2);
                    sample(neighbour);
                } while (!preempted.caughtUp());
                engine.step(alone, 1);
                expected[i] = sample(through);
                actual[i] = sample(preempted);
            }
            assertArrayEquals(expected, actual, "tokens generated after the preemption");
            assertSameCache(through.cache(), preempted.cache());
        }
    }

    @Property(tries = 30)
    void aPromptReadBesideOtherRowsGivesTheTokensOfOneReadAlone(@ForAll("policies") PruningPolicy policy,
                                                               @ForAll @IntRange(min = 1, max = 300) int promptLength,
                                                               @ForAll @IntRange(min = 1, max = 30) int generated,
                                                               @ForAll long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int vocabulary = model.config().vocabularySize();
        int[] prompt = random.ints(promptLength, 0, vocabulary).toArray();
        SamplerConfig sampling = new SamplerConfig(0.8f, 40, 0.95f, 0.05f, 1.1f, 64, seed);
        try (Engine engine = new Engine(model, new EngineConfig(2, CONTEXT, KvCacheConfig.defaults(), policy,
                NEIGHBOURS + 2))) {
            Sequence alone = engine.newSequence(SequenceOptions.of(Sampler.create(sampling), token -> false));
            Sequence chunked = engine.newSequence(SequenceOptions.of(Sampler.create(sampling), token -> false));
            alone.prefill(prompt);
            Sequence[] batch = new Sequence[NEIGHBOURS + 1];
            batch[0] = chunked;
            for (int i = 1; i <= NEIGHBOURS; i++) {
                // neighbours that decode, or read a prompt of their own (in blocks too), while the prompt is read
                batch[i] = engine.newSequence(SequenceOptions.of(Sampler.create(sampling), token -> false));
                batch[i].acceptPrompt(random.ints(1 + random.nextInt(random.nextBoolean() ? 8 : 200), 0, vocabulary)
                        .toArray());
            }
            chunked.acceptPrompt(prompt);
            int[] expected = new int[generated];
            int[] actual = new int[generated];
            for (int i = 0; i < generated; i++) {
                do {
                    int count = stepWhatFits(engine, batch);
                    for (int row = 1; row < count; row++) {
                        if (batch[row].caughtUp()) {
                            batch[row].sampleNext();
                        }
                    }
                } while (!chunked.caughtUp());
                expected[i] = sample(alone);
                actual[i] = sample(chunked);
                if (i + 1 < generated) {
                    alone.step();
                }
            }
            assertArrayEquals(expected, actual, "tokens generated after a prompt read in blocks beside other rows");
            assertSameCache(alone.cache(), chunked.cache());
        }
    }

    /**
     * One step for the sequence under test and as many neighbours, in order, as the step holds; the neighbours
     * it leaves out go to the end of the batch. Returns how many sequences read.
     */
    private static int stepWhatFits(Engine engine, Sequence[] batch) {
        int rows = batch[0].nextRead();
        int count = 1;
        for (int i = 1; i < batch.length; i++) {
            if (rows + batch[i].nextRead() <= engine.rowsPerStep()) {
                rows += batch[i].nextRead();
                Sequence fits = batch[i];
                batch[i] = batch[count];
                batch[count++] = fits;
            }
        }
        engine.step(batch, count);
        return count;
    }

    private static void start(Sequence sequence, int[] prompt) {
        sequence.prefill(prompt);
        sequence.sampleNext();
    }

    /** The token sampled from the logits the sequence holds, which is then read by the next step. */
    private static int sample(Sequence sequence) {
        sequence.sampleNext();
        return sequence.token(sequence.length() - 1);
    }

    private static void assertSameCache(PagedKvCache expected, PagedKvCache actual) {
        int kvDim = expected.geometry().kvDim();
        for (int layer = 0; layer < expected.geometry().layers(); layer++) {
            int[] positions = expected.positions(layer);
            assertArrayEquals(positions, actual.positions(layer), "tokens kept in layer " + layer);
            float[] k1 = new float[kvDim];
            float[] v1 = new float[kvDim];
            float[] k2 = new float[kvDim];
            float[] v2 = new float[kvDim];
            for (int position : positions) {
                expected.read(layer, position, k1, v1);
                actual.read(layer, position, k2, v2);
                assertArrayEquals(k1, k2, "keys of position %d, layer %d".formatted(position, layer));
                assertArrayEquals(v1, v2, "values of position %d, layer %d".formatted(position, layer));
            }
        }
    }
}
