package dev.winnow.tests.model;

import dev.winnow.tests.ForwardSequence;
import dev.winnow.engine.model.Architecture;
import dev.winnow.engine.model.Model;
import dev.winnow.tensors.WorkerPool;
import dev.winnow.tests.cli.CliRunner;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The quantized paths against the float path, for every family: a random model quantized with
 * {@code winnow quantize} gives logits close to the F32 model's (cosine similarity over the vocabulary) at every
 * position of a teacher-forced sequence. Random uniform weights are the hardest case for 4 bits (their rounding
 * noise is about a sixteenth of the range), hence the looser Q4_0 bound; a broken kernel gives a cosine near 0.
 */
class QuantizedFamilyTest {

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"llama, q8_0, 0.999", "qwen2, q8_0, 0.999", "qwen3, q8_0, 0.999", "phi3, q8_0, 0.999", "gpt2, q8_0, 0.999",
            "llama, q4_0, 0.93", "qwen2, q4_0, 0.93", "qwen3, q4_0, 0.93", "phi3, q4_0, 0.93", "gpt2, q4_0, 0.93"})
    void quantizedLogitsFollowTheFloatModel(String family, String type, double minimumCosine, @TempDir Path dir) throws Exception {
        Path f32 = dir.resolve(family + "-f32.gguf");
        Path quantized = dir.resolve(family + "-" + type + ".gguf");
        TinyLlama.random(5, 64, 2, 4, 2, 96, 48, 32, 16, false).as(Architecture.of(family).orElseThrow(), 6).write(f32);
        CliRunner.Run run = CliRunner.run("quantize", f32.toString(), quantized.toString(), "--type", type);
        assertEquals(0, run.exitCode(), run.err());

        int[] tokens = new SplittableRandom(7).ints(24, 0, 48).toArray();
        try (Model reference = Model.load(f32); Model model = Model.load(quantized); WorkerPool workers = new WorkerPool(2)) {
            ForwardSequence exact = ForwardSequence.dense(reference, workers);
            ForwardSequence approximate = ForwardSequence.dense(model, workers);
            for (int position = 0; position < tokens.length; position++) {
                float[] a = exact.next(tokens[position]).clone();
                float[] b = approximate.next(tokens[position]);
                double cosine = cosine(a, b);
                assertTrue(cosine >= minimumCosine, "%s %s position %d: cosine %.5f".formatted(family, type, position, cosine));
            }
        }
    }

    private static double cosine(float[] a, float[] b) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return dot / Math.sqrt(na * nb);
    }
}
