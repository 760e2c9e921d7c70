package dev.winnow.tests.training;

import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.EngineConfig;
import dev.winnow.engine.runtime.Sequence;
import dev.winnow.engine.runtime.SequenceOptions;
import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.training.ModelParameters;
import dev.winnow.engine.training.TrainingPass;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tests.model.TinyLlama;
import net.jqwik.api.Assume;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.statistics.Statistics;
import net.jqwik.api.constraints.IntRange;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The training forward pass with the step function (alpha = infinity) is the model the engine runs with
 * {@code --prune dcp}: for random tiny models with random modules, its logits at every position equal the
 * engine's, decoding token by token through the paged cache that physically frees the dropped tokens (with
 * and without linear RoPE scaling and {@code rope_freqs.weight}: both passes rotate through the one {@code Rope}), and its
 * hard kept fraction of (query, earlier token) pairs is exactly 1 - the sparsity the cache counted. Cases where
 * an interaction score came within 1e-3 of the decision boundary are discarded (float rounding could flip them).
 */
class TrainingMatchesEngineTest {
    private static final int CONTEXT = 40;
    @Property(tries = 20)
    void hardDecisionsGiveTheEnginesLogitsAndSparsity(@ForAll @IntRange(min = 1, max = 3) int layers,
                                                       @ForAll @IntRange(min = 2, max = 30) int length,
                                                       @ForAll @IntRange(min = 2, max = 16) int rank,
                                                       @ForAll boolean tied, @ForAll boolean ropeScaling,
                                                       @ForAll long seed) throws Exception {
        SplittableRandom random = new SplittableRandom(seed);
        float[] bias = new float[layers];
        for (int l = 0; l < layers; l++) {
            bias[l] = (float) (random.nextDouble() * 0.6 - 0.1);
        }
        TinyLlama tiny = TinyLlama.random(seed, 16, layers, 4, 2, 40, 37, CONTEXT, 4, tied)
                .withDcp(TinyLlama.Dcp.random(seed + 1, layers, 16, rank, 0.25, bias));
        if (ropeScaling) {
            tiny = tiny.withRopeScaling((float) (1 + 3 * random.nextDouble()), seed + 2);
        }
        Statistics.label("RoPE scaling and rope_freqs").collect(ropeScaling);
        int[] tokens = random.ints(length, 0, tiny.vocab()).toArray();
        Path file = Files.createTempFile("tiny-train", ".gguf");
        try {
            tiny.write(file);
            try (Model model = Model.load(file);
                 Engine engine = new Engine(model, new EngineConfig(2, CONTEXT, new KvCacheConfig(4, GgmlType.F32, null),
                         new PruningPolicy.Dcp(), 1))) {
                ModelParameters parameters = ModelParameters.fromModel(model, 1, 0);
                assertEquals(rank, parameters.layout().rank(), "the module of the file is used");
                TrainingPass pass = new TrainingPass(parameters.layout(), length);
                TrainingPass.Result result = pass.forward(parameters.values(), tokens, new int[length], null,
                        Double.POSITIVE_INFINITY);
                Assume.that(pass.closestDecision() > 1e-3);
                float[] trained = pass.logits();
                Sequence session = engine.newSequence(SequenceOptions.forced(null));
                int vocab = tiny.vocab();
                for (int t = 0; t < length; t++) {
                    float[] logits = session.feed(tokens[t]);
                    for (int v = 0; v < vocab; v++) {
                        float expected = logits[v];
                        float actual = trained[t * vocab + v];
                        assertTrue(Math.abs(expected - actual) <= 2e-4 + 1e-4 * Math.abs(expected),
                                "position %d, logit %d: engine %s, trainer %s".formatted(t, v, expected, actual));
                    }
                }
                PagedKvCache cache = session.cache();
                double sparsity = 0;
                for (int l = 0; l < layers; l++) {
                    sparsity += cache.stats(l).sparsity() / layers;
                }
                assertEquals(1 - sparsity, result.keptFraction(), 1e-9, "kept pairs");
                Statistics.label("pruned").collect(sparsity > 0);
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
