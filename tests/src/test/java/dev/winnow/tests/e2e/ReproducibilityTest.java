package dev.winnow.tests.e2e;

import dev.winnow.engine.generate.Session;
import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.kv.PagePool;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.tensors.VectorMath;
import dev.winnow.tensors.WorkerPool;
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
        try (Model model = Model.load(path); WorkerPool workers = new WorkerPool(2)) {
            float[][] first = run(model, workers);
            for (int repetition = 1; repetition <= 15; repetition++) {
                float[][] again = run(model, workers);
                for (int step = 0; step < first.length; step++) {
                    assertArrayEquals(first[step], again[step], "run %d, step %d".formatted(repetition, step));
                }
            }
        }
    }

    private static float[][] run(Model model, WorkerPool workers) {
        int steps = 80;
        int context = 85;
        try (PagePool pages = KvCacheConfig.defaults().newPool(model.config().kvGeometry(context), 0)) {
            Session session = Session.paged(model, pages, context, workers, new PruningPolicy.None(), null);
            float[][] all = new float[steps][];
            float[] logits = session.ingest(new int[] {1, 403, 407, 261, 378});
            for (int i = 0; i < steps; i++) {
                all[i] = logits.clone();
                logits = session.next(VectorMath.argmax(logits, 0, logits.length));
            }
            return all;
        }
    }
}
