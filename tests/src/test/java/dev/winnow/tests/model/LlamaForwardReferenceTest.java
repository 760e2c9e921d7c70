package dev.winnow.tests.model;

import dev.winnow.tests.ForwardSequence;
import dev.winnow.engine.model.Architecture;
import dev.winnow.engine.model.Model;
import dev.winnow.tensors.WorkerPool;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine's forward pass on random tiny models of every supported family (Llama; Qwen2 with projection biases;
 * Qwen3 with per-head query/key norms; Phi-3 with fused QKV and gate/up and NeoX RoPE; GPT-2 with LayerNorm,
 * learned positions, biases and a GELU feed-forward block), with and without RoPE scaling (linear, and
 * per-frequency factors in rope_freqs.weight), with grouped-query
 * attention, partial RoPE, tied and separate output matrices, against the independent double-precision reference: a prompt read as one causal block, then
 * every decoded position.
 */
class LlamaForwardReferenceTest {

    @Property(tries = 80)
    void logitsMatchTheDoublePrecisionReference(@ForAll @IntRange(min = 1, max = 3) int layers,
                                                @ForAll @IntRange(min = 0, max = 2) int headChoice,
                                                @ForAll @IntRange(min = 0, max = 1) int kvChoice,
                                                @ForAll @IntRange(min = 0, max = 1) int partialRope,
                                                @ForAll boolean tied,
                                                @ForAll @IntRange(min = 1, max = 3) int threads,
                                                @ForAll @IntRange(min = 0, max = 4) int family,
                                                @ForAll boolean ropeScaling,
                                                @ForAll long seed) throws Exception {
        int heads = new int[] {2, 4, 8}[headChoice];
        int kvHeads = kvChoice == 0 ? heads : heads / 2;
        int headDim = 8;
        int dim = heads * headDim;
        int ropeDim = partialRope == 1 ? headDim / 2 : headDim;
        int vocab = 37;
        int context = 24;
        TinyLlama tiny = TinyLlama.random(seed, dim, layers, heads, kvHeads, 3 * dim - 5, vocab, context, ropeDim, tied)
                .as(Architecture.SUPPORTED.get(family), seed + 1);
        if (ropeScaling) {
            tiny = tiny.withRopeScaling(4f, seed + 2);
        }
        Path file = Files.createTempFile("tiny-llama", ".gguf");
        try {
            tiny.write(file);
            ReferenceLlama reference = new ReferenceLlama(tiny);
            SplittableRandom random = new SplittableRandom(seed);
            try (Model model = Model.load(file); WorkerPool pool = new WorkerPool(threads)) {
                ForwardSequence session = ForwardSequence.dense(model, pool);
                int[] prompt = random.ints(1 + random.nextInt(context - 1), 0, vocab).toArray();
                double[] promptExpected = null;
                for (int position = 0; position < prompt.length; position++) {
                    promptExpected = reference.forward(prompt[position], position);
                }
                assertClose(promptExpected, session.ingest(prompt), prompt.length - 1);
                for (int position = prompt.length; position < context; position++) {
                    int token = random.nextInt(vocab);
                    float[] logits = session.next(token);
                    double[] expected = reference.forward(token, position);
                    assertClose(expected, logits, position);
                }
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }

    private static void assertClose(double[] expected, float[] actual, int position) {
        double scale = 0;
        for (double e : expected) {
            scale = Math.max(scale, Math.abs(e));
        }
        for (int i = 0; i < expected.length; i++) {
            double error = Math.abs(expected[i] - actual[i]);
            assertTrue(error <= 1e-4 * Math.max(1, scale),
                    "logit %d at position %d: expected %.6f, got %.6f".formatted(i, position, expected[i], actual[i]));
        }
    }
}
