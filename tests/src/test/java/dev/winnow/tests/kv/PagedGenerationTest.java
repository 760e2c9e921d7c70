package dev.winnow.tests.kv;

import dev.winnow.engine.kv.KvBudget;
import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.kv.KvCacheFullException;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.EngineConfig;
import dev.winnow.engine.runtime.Sequence;
import dev.winnow.engine.runtime.SequenceOptions;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tensors.VectorMath;
import dev.winnow.tensors.WorkerPool;
import dev.winnow.tests.ForwardSequence;
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
        ForwardSequence reference = ForwardSequence.dense(model, workers);
        int[] dense = greedy(reference.ingest(PROMPT), reference::next);
        int total = PROMPT.length + GENERATED;
        long minimumPages = KvBudget.tokens(total).maxPages(model.config().layers(), pageSize, 0);
        try (Engine engine = engine(pageSize, storage, total)) {
            Sequence sequence = engine.newSequence(SequenceOptions.forced(null));
            int[] paged = greedy(sequence.prefill(PROMPT), sequence::feed);
            assertArrayEquals(dense, paged);
            assertTrue(engine.pages().pagesInUse() <= minimumPages);
        }
    }

    @Test
    void oneTokenBelowTheMinimumBudgetIsRefusedClearly() {
        int pageSize = 8;
        int total = PROMPT.length + GENERATED;
        try (Engine engine = engine(pageSize, GgmlType.F16, total - pageSize)) {
            Sequence sequence = engine.newSequence(SequenceOptions.forced(null));
            KvCacheFullException full = assertThrows(KvCacheFullException.class,
                    () -> greedy(sequence.prefill(PROMPT), sequence::feed));
            assertTrue(full.getMessage().contains("--kv-budget"), full.getMessage());
        }
    }

    /** An engine whose pool holds {@code budgetTokens} tokens per layer, for sequences of the test's length. */
    private static Engine engine(int pageSize, GgmlType storage, int budgetTokens) {
        KvCacheConfig kv = new KvCacheConfig(pageSize, storage, KvBudget.tokens(budgetTokens));
        return new Engine(model, new EngineConfig(2, PROMPT.length + GENERATED, kv, new PruningPolicy.None(), 1));
    }

    private static int[] greedy(float[] promptLogits, java.util.function.IntFunction<float[]> next) {
        int[] tokens = new int[GENERATED];
        float[] logits = promptLogits;
        for (int i = 0; i < GENERATED; i++) {
            tokens[i] = VectorMath.argmax(logits, 0, logits.length);
            logits = next.apply(tokens[i]);
        }
        return tokens;
    }
}
