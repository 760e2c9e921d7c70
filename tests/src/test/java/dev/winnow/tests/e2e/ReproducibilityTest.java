package dev.winnow.tests.e2e;

import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.EngineConfig;
import dev.winnow.engine.runtime.Sequence;
import dev.winnow.engine.runtime.SequenceOptions;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.tensors.VectorMath;
import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The same input gives bit-identical logits however warm the JVM is: the first run is mostly interpreted, later
 * ones compiled, and no kernel may let that change a result (lane sums in a fixed order, scalar exp).
 */
class ReproducibilityTest {

    @Test
    void repeatedRunsGiveIdenticalLogits() throws Exception {
        Path path = SharedFiles.requireShared("models/stories260K.gguf");
        try (Model model = Model.load(path)) {
            float[][] first = run(model);
            for (int repetition = 1; repetition <= 15; repetition++) {
                float[][] again = run(model);
                for (int step = 0; step < first.length; step++) {
                    assertArrayEquals(first[step], again[step], "run %d, step %d".formatted(repetition, step));
                }
            }
        }
    }

    private static float[][] run(Model model) {
        int steps = 80;
        int context = 85;
        try (Engine engine = new Engine(model, EngineConfig.single(2, context, new PruningPolicy.None()))) {
            Sequence session = engine.newSequence(SequenceOptions.forced(null));
            float[][] all = new float[steps][];
            float[] logits = session.prefill(new int[] {1, 403, 407, 261, 378});
            for (int i = 0; i < steps; i++) {
                all[i] = logits.clone();
                logits = session.feed(VectorMath.argmax(logits, 0, logits.length));
            }
            return all;
        }
    }
}
