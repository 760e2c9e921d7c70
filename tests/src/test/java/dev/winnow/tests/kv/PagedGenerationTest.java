package dev.winnow.tests.kv;

import dev.winnow.engine.generate.Session;
import dev.winnow.engine.kv.KvBudget;
import dev.winnow.engine.kv.KvCacheFullException;
import dev.winnow.engine.kv.PagePool;
import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.engine.model.Model;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tensors.VectorMath;
import dev.winnow.tensors.WorkerPool;
import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Greedy generation on stories260K through the paged cache, for several page sizes and with the budget at its
 * minimum, equals generation through the dense reference cache token for token.
 */
class PagedGenerationTest {
    private static final int[] PROMPT = {1, 403, 407, 261, 378};
    private static final int GENERATED = 150;
    private static Model model;
    private static WorkerPool workers;

    @BeforeAll
    static void load() throws IOException {
        model = Model.load(SharedFiles.requireShared("models/stories260K.gguf"));
        workers = new WorkerPool(2);
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
        if (workers != null) {
            workers.close();
        }
    }

    @ParameterizedTest(name = "page size {0}, {1}")
    @CsvSource({"1, F32", "4, F32", "7, F32", "16, F32", "64, F32", "4, F16", "32, F16"})
    void pagedGenerationEqualsDense(int pageSize, GgmlType storage) {
        int[] dense = greedy(Session.dense(model, 0, workers));
        int total = PROMPT.length + GENERATED;
        long minimumPages = new KvBudget.Tokens(total).maxPages(model.config().layers(), pageSize, 0);
        try (PagePool pool = pool(pageSize, storage, minimumPages)) {
            int[] paged = greedy(new Session(model, new PagedKvCache(pool, model.config().kvGeometry(total)), workers));
            assertArrayEquals(dense, paged);
            assertTrue(pool.pagesInUse() <= minimumPages);
        }
    }

    @Test
    void oneTokenBelowTheMinimumBudgetIsRefusedClearly() {
        int pageSize = 8;
        int total = PROMPT.length + GENERATED;
        long pages = new KvBudget.Tokens(total - pageSize).maxPages(model.config().layers(), pageSize, 0);
        try (PagePool pool = pool(pageSize, GgmlType.F16, pages)) {
            Session session = new Session(model, new PagedKvCache(pool, model.config().kvGeometry(total)), workers);
            KvCacheFullException full = assertThrows(KvCacheFullException.class, () -> greedy(session));
            assertTrue(full.getMessage().contains("--kv-budget"), full.getMessage());
        }
    }

    private static PagePool pool(int pageSize, GgmlType storage, long pages) {
        return new PagePool(model.config().kvHeads(), model.config().headDim(), 0, pageSize, storage, pages);
    }

    private static int[] greedy(Session session) {
        int[] tokens = new int[GENERATED];
        float[] logits = session.ingest(PROMPT);
        for (int i = 0; i < GENERATED; i++) {
            tokens[i] = VectorMath.argmax(logits, 0, logits.length);
            logits = session.next(tokens[i]);
        }
        return tokens;
    }
}
