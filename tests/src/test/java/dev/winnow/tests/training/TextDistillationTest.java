package dev.winnow.tests.training;

import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.EngineConfig;
import dev.winnow.engine.runtime.Sequence;
import dev.winnow.engine.runtime.SequenceOptions;
import dev.winnow.tensors.GgmlType;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.training.TextData;
import dev.winnow.engine.training.TrainingData;
import dev.winnow.tensors.VectorMath;
import dev.winnow.tensors.WorkerPool;
import dev.winnow.tests.model.TinyLlama;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Distillation on text: every row, training or held out, pairs a window of the text with the dense teacher's
 * distributions on exactly that window, bit for bit (computed here afresh by a session on two threads, where the
 * data decodes each window on one), and no training window reaches into the held-out part.
 */
class TextDistillationTest {
    private static final int SEQ_LEN = 12;

    @Property(tries = 10)
    void rowsCarryTheTeachersDistributionsOnTheirOwnWindow(@ForAll long seed,
                                                           @ForAll @IntRange(min = 60, max = 120) int length,
                                                           @ForAll @IntRange(min = 0, max = 500) int step) throws Exception {
        TinyLlama tiny = TinyLlama.random(seed, 16, 2, 4, 2, 40, 23, 64, 4, false);
        int[] stream = new SplittableRandom(seed).ints(length, 0, tiny.vocab()).toArray();
        Path file = Files.createTempFile("tiny-teacher", ".gguf");
        try {
            tiny.write(file);
            try (Model model = Model.load(file); WorkerPool workers = new WorkerPool(2)) {
                TextData text = new TextData(stream, SEQ_LEN, 0.3, 2, "random tokens");
                AtomicInteger done = new AtomicInteger();
                TextData distilled = TextData.distilled(text, model, workers, count -> done.accumulateAndGet(count, Math::max));
                assertTrue(distilled.distilled() && !text.distilled());
                assertEquals(text.distillationWindows(), done.get(), "progress counts every window");
                assertNotEquals(text.fingerprint(), distilled.fingerprint(), "a checkpoint tells the two apart");
                assertEquals(text.heldOutRows(), distilled.heldOutRows());
                for (int row = 0; row < 3; row++) {
                    TrainingData.Row window = distilled.trainingRow(seed, step, row);
                    int start = indexOf(stream, window.inputs());
                    assertEquals(0, start % SEQ_LEN, "training windows are the consecutive ones");
                    assertTrue(start + SEQ_LEN < text.trainingTokens(), "no held-out token is trained on");
                    assertTeacher(model, window, workers);
                }
                for (int i = 0; i < distilled.heldOutRows(); i++) {
                    TrainingData.Row window = distilled.heldOutRow(i);
                    assertArrayEquals(text.heldOutRow(i).inputs(), window.inputs());
                    assertTeacher(model, window, workers);
                }
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /** The row's teacher at position t is the dense model's softmax after the window's tokens 0..t. */
    private static void assertTeacher(Model model, TrainingData.Row row, WorkerPool workers) {
        assertNull(row.targets(), "distilled rows are scored against the teacher only");
        int vocab = model.config().vocabularySize();
        EngineConfig dense = new EngineConfig(2, SEQ_LEN, new KvCacheConfig(KvCacheConfig.DEFAULT_PAGE_SIZE,
                GgmlType.F32, null), new PruningPolicy.None(), 1);
        try (Engine engine = new Engine(model, dense)) {
            Sequence sequence = engine.newSequence(SequenceOptions.forced(null));
            for (int t = 0; t < SEQ_LEN; t++) {
                float[] expected = sequence.feed(row.inputs()[t]).clone();
                VectorMath.softmax(expected, 0, vocab);
                float[] actual = Arrays.copyOfRange(row.teacher(), t * vocab, (t + 1) * vocab);
                assertArrayEquals(expected, actual, "position " + t);
            }
        }
    }

    private static int indexOf(int[] stream, int[] window) {
        for (int start = 0; start + window.length <= stream.length; start += SEQ_LEN) {
            if (Arrays.equals(stream, start, start + window.length, window, 0, window.length)) {
                return start;
            }
        }
        throw new AssertionError("the window is not one of the text's consecutive windows");
    }
}
