package dev.winnow.tests.training;

import dev.winnow.engine.model.LlamaConfig;
import dev.winnow.engine.training.AdamW;
import dev.winnow.engine.training.Checkpoint;
import dev.winnow.engine.training.ModelParameters;
import dev.winnow.engine.training.ParameterLayout;
import dev.winnow.engine.training.TextCorpus;
import dev.winnow.engine.training.TextData;
import dev.winnow.engine.training.Trainer;
import dev.winnow.engine.training.TrainingConfig;
import dev.winnow.engine.training.TrainingData;
import dev.winnow.tensors.WorkerPool;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The training loop on tiny random models: determinism, resuming, the schedules, AdamW, the data windows. */
class TrainerTest {
    private static final int SEQ_LEN = 8;

    private static TrainingConfig config(TrainingConfig.Mode mode, int steps, double gamma, long seed) {
        return new TrainingConfig(gamma, steps, SEQ_LEN, 3, 1e-2, 3e-2, 2, TrainingConfig.Decay.COSINE, mode, 4, 8, 1,
                0.01, seed);
    }

    private static ModelParameters parameters(LlamaConfig c, boolean tied, long seed) {
        ParameterLayout layout = new ParameterLayout(c, 4, tied);
        return new ModelParameters(layout, TinyTraining.parameters(layout, new SplittableRandom(seed), 0.3, 0, 0.6));
    }

    private static TextData data(long seed, int vocab) {
        int[] stream = new SplittableRandom(seed).ints(400, 0, vocab).toArray();
        return new TextData(stream, SEQ_LEN, 0.2, 4, "random tokens");
    }

    private static float[] run(TrainingConfig config, ModelParameters start, TrainingData data, int threads, int steps) {
        ModelParameters parameters = new ModelParameters(start.layout(), start.values().clone());
        try (WorkerPool pool = new WorkerPool(threads)) {
            Trainer trainer = Trainer.start(config, parameters, data, pool);
            for (int i = 0; i < steps; i++) {
                trainer.step();
            }
            return parameters.values();
        }
    }

    @Property(tries = 8)
    void resumingFromACheckpointGivesBitIdenticalWeights(@ForAll boolean moduleOnly, @ForAll boolean tied,
                                                         @ForAll @IntRange(min = 1, max = 5) int stopAfter,
                                                         @ForAll @IntRange(min = 1, max = 3) int threads,
                                                         @ForAll long seed) throws IOException {
        LlamaConfig c = TinyTraining.config(2);
        TrainingConfig config = config(moduleOnly ? TrainingConfig.Mode.MODULE : TrainingConfig.Mode.ALL, 6, 0.3, seed);
        ModelParameters start = parameters(c, tied, seed);
        TextData data = data(seed, c.vocabularySize());
        float[] uninterrupted = run(config, start, data, 2, 6);

        Path checkpoint = Files.createTempFile("winnow-checkpoint", ".gguf");
        try {
            ModelParameters parameters = new ModelParameters(start.layout(), start.values().clone());
            try (WorkerPool pool = new WorkerPool(threads)) {
                Trainer first = Trainer.start(config, parameters, data, pool);
                for (int i = 0; i < stopAfter; i++) {
                    first.step();
                }
                Checkpoint.save(first, "tiny", checkpoint);
            }
            try (WorkerPool pool = new WorkerPool(threads)) {
                Trainer resumed = Checkpoint.resume(checkpoint, c, tied, data, pool);
                assertEquals(stopAfter, resumed.completedSteps());
                assertEquals(config, resumed.config());
                while (!resumed.finished()) {
                    resumed.step();
                }
                assertArrayEquals(uninterrupted, resumed.parameters().values());
            }
        } finally {
            Files.deleteIfExists(checkpoint);
        }
    }

    @Property(tries = 6)
    void theNumberOfThreadsDoesNotChangeTheResult(@ForAll boolean moduleOnly, @ForAll long seed) {
        LlamaConfig c = TinyTraining.config(2);
        TrainingConfig config = config(moduleOnly ? TrainingConfig.Mode.MODULE : TrainingConfig.Mode.ALL, 3, 0.3, seed);
        ModelParameters start = parameters(c, false, seed);
        TextData data = data(seed, c.vocabularySize());
        assertArrayEquals(run(config, start, data, 1, 3), run(config, start, data, 3, 3));
    }

    @Test
    void moduleModeLeavesTheBaseUntouched() {
        LlamaConfig c = TinyTraining.config(2);
        ModelParameters start = parameters(c, false, 5);
        float[] trained = run(config(TrainingConfig.Mode.MODULE, 3, 0.3, 5), start, data(5, c.vocabularySize()), 2, 3);
        int moduleStart = start.layout().moduleStart();
        assertArrayEquals(Arrays.copyOf(start.values(), moduleStart), Arrays.copyOf(trained, moduleStart));
        assertFalse(Arrays.equals(start.values(), trained), "the module changed");
    }

    @Test
    void theSparsityTermMakesTheModulePrune() {
        LlamaConfig c = TinyTraining.config(2);
        ModelParameters parameters = parameters(c, false, 9);
        TrainingConfig config = new TrainingConfig(3, 40, SEQ_LEN, 4, 1e-3, 5e-2, 0, TrainingConfig.Decay.CONSTANT,
                TrainingConfig.Mode.MODULE, 4, 8, 1, 0, 9);
        try (WorkerPool pool = new WorkerPool(2)) {
            Trainer trainer = Trainer.start(config, parameters, data(9, c.vocabularySize()), pool);
            double before = trainer.evaluate(Double.POSITIVE_INFINITY).keptFraction();
            while (!trainer.finished()) {
                trainer.step();
            }
            double after = trainer.evaluate(Double.POSITIVE_INFINITY).keptFraction();
            assertTrue(after < before - 0.2, "kept fraction %.3f -> %.3f".formatted(before, after));
        }
    }

    @Test
    void resumingWithOtherDataIsRefused(@TempDir Path dir) throws IOException {
        LlamaConfig c = TinyTraining.config(1);
        Path checkpoint = dir.resolve("run.checkpoint");
        try (WorkerPool pool = new WorkerPool(1)) {
            Trainer trainer = Trainer.start(config(TrainingConfig.Mode.ALL, 2, 0.1, 1), parameters(c, false, 1),
                    data(1, c.vocabularySize()), pool);
            trainer.step();
            Checkpoint.save(trainer, "tiny", checkpoint);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Checkpoint.resume(checkpoint, c, false, data(2, c.vocabularySize()), pool));
            assertTrue(e.getMessage().contains("other data"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> Checkpoint.resume(checkpoint, TinyTraining.config(2), false, data(1, c.vocabularySize()), pool));
            assertTrue(e.getMessage().contains("another base model"), e.getMessage());
        }
    }

    @Property(tries = 50)
    void alphaRisesFromOneToAlphaMaxAndTheLearningRateWarmsUp(@ForAll @IntRange(min = 1, max = 500) int steps,
                                                              @ForAll @IntRange(min = 0, max = 100) int warmup,
                                                              @ForAll boolean cosine) {
        TrainingConfig c = new TrainingConfig(0.1, steps, 4, 1, 1e-3, 1e-2, warmup,
                cosine ? TrainingConfig.Decay.COSINE : TrainingConfig.Decay.CONSTANT, TrainingConfig.Mode.ALL, 4, 8, 1, 0, 1);
        assertEquals(steps == 1 ? 8 : TrainingConfig.ALPHA_START, c.alpha(0), 1e-12);
        assertEquals(8, c.alpha(steps - 1), 1e-12);
        assertEquals(8, c.alpha(steps + 10), 1e-12);
        for (int t = 1; t < steps; t++) {
            assertTrue(c.alpha(t) >= c.alpha(t - 1));
            double expected = 8 + 0.5 * (1 - 8) * (1 + Math.cos(Math.PI * t / (steps - 1)));
            assertEquals(Math.max(expected, TrainingConfig.ALPHA_START), c.alpha(t), 1e-12);
        }
        int peak = Math.max(0, warmup - 1);
        for (int t = 0; t < Math.min(peak, steps); t++) {
            assertEquals((t + 1.0) / warmup, c.learningRateFactor(t), 1e-12, "warm-up");
        }
        for (int t = peak; t < steps; t++) {
            double factor = c.learningRateFactor(t);
            if (!cosine || t == peak) {
                assertEquals(1, factor, 1e-12, "full rate after the warm-up");
            } else {
                assertTrue(factor <= c.learningRateFactor(t - 1) && factor >= 0.1 - 1e-12, "decay");
            }
        }
        if (cosine && steps - 1 > peak) {
            assertEquals(0.1, c.learningRateFactor(steps - 1), 1e-12, "a tenth at the last step");
        }
    }

    @Test
    void adamWTakesTheTextbookStep() {
        float[] params = {0.5f, -1f, 2f};
        float[] grad = {0.1f, -0.2f, 0f};
        AdamW adam = new AdamW(2);
        try (WorkerPool pool = new WorkerPool(1)) {
            adam.update(params, 1, grad, 0, 0.01f, 0.1f, new boolean[] {true, false}, pool);
            adam.update(params, 1, grad, 0, 0.01f, 0.1f, new boolean[] {true, false}, pool);
        }
        // Two steps with the same gradient: m_hat = g and v_hat = g^2 after bias correction, so each step is
        // lr * (sign(g) * |g| / (|g| + eps) + decay * p).
        double p = -1;
        for (int i = 0; i < 2; i++) {
            p -= 0.01 * (0.1 / (0.1 + 1e-8) + 0.1 * p);
        }
        assertEquals(p, params[1], 1e-6);
        assertEquals(2f - 2 * 0.01f * (0.2f / (0.2f + 1e-8f)) * -1, params[2], 1e-6);
        assertEquals(0.5f, params[0], "outside the optimizer's range");
        assertEquals(2, adam.updates());
    }

    @Property(tries = 30)
    void trainingWindowsStayInTheTrainingPartAndTargetsAreTheNextTokens(@ForAll long seed,
                                                                        @ForAll @IntRange(min = 0, max = 1000) int step,
                                                                        @ForAll @IntRange(min = 0, max = 16) int row) {
        int[] stream = new int[300];
        for (int i = 0; i < stream.length; i++) {
            stream[i] = i;
        }
        TextData data = new TextData(stream, SEQ_LEN, 0.25, 100, "positions");
        TrainingData.Row window = data.trainingRow(seed, step, row);
        assertEquals(SEQ_LEN, window.inputs().length);
        for (int i = 0; i < SEQ_LEN; i++) {
            assertEquals(window.inputs()[0] + i, window.inputs()[i]);
            assertEquals(window.inputs()[i] + 1, window.targets()[i]);
        }
        assertTrue(window.targets()[SEQ_LEN - 1] < data.trainingTokens(), "no held-out token is trained on");
        assertArrayEquals(window.inputs(), data.trainingRow(seed, step, row).inputs(), "a pure function of (seed, step, row)");
        for (int i = 0; i < data.heldOutRows(); i++) {
            assertTrue(data.heldOutRow(i).inputs()[0] >= data.trainingTokens());
        }
        assertEquals(Math.min(100, (300 - data.trainingTokens() - 1) / SEQ_LEN), data.heldOutRows());
    }

    @Test
    void documentsAreSplitAtEndOfTextLines() {
        assertEquals(List.of("One story.\nTwo lines.", "Another story."),
                TextCorpus.documents("One story.\nTwo lines.\n<|endoftext|>\n\nAnother story.\n  <|endoftext|>  \n\n"));
        assertEquals(List.of("no separator at all"), TextCorpus.documents("\n no separator at all \n"));
        assertEquals(List.of(), TextCorpus.documents("<|endoftext|>\n \n"));
    }

    @Test
    void badSettingsAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TrainingConfig(-1, 10, 8, 1, 1e-3, 1e-2, 0, TrainingConfig.Decay.CONSTANT,
                        TrainingConfig.Mode.ALL, 4, 8, 1, 0, 1));
        assertTrue(e.getMessage().contains("--gamma"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TrainingConfig.Mode.parse("some"));
        assertTrue(e.getMessage().contains("--mode"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new TextData(new int[20], 32, 0.1, 4, "short.txt"));
        assertTrue(e.getMessage().contains("short.txt") && e.getMessage().contains("--seq-len"), e.getMessage());
    }
}
