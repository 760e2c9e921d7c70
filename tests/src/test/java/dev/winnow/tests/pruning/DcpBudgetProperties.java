package dev.winnow.tests.pruning;

import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.DcpTarget;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.EngineConfig;
import dev.winnow.engine.runtime.Sequence;
import dev.winnow.engine.runtime.SequenceOptions;
import dev.winnow.tests.model.TinyLlama;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --prune dcp:budget=N} never lets a layer hold more than N tokens once a step is done, whatever the
 * module votes: on tiny random models whose modules keep nearly everything, prune hard, or fall in between
 * (each layer its own bias), with prompts read in blocks and tokens decoded one by one, in a page pool sized by
 * the policy's own estimate (a wrong estimate fails the step).
 */
class DcpBudgetProperties {
    private static final int CONTEXT = 400;
    private static final int LAYERS = 3;
    private static final int VOCAB = 64;
    /** Per model, the bias of each layer's module: from keeping everything to pruning most. */
    private static final float[][] BIASES = {{50, 50, 50}, {0.3f, -0.2f, 1f}, {-1, -1, -1}};
    private static final Path[] files = new Path[BIASES.length];

    @BeforeContainer
    static void write() throws IOException {
        for (int i = 0; i < BIASES.length; i++) {
            files[i] = Files.createTempFile("dcp-budget", ".gguf");
            TinyLlama.random(31 + i, 16, LAYERS, 4, 2, 40, VOCAB, CONTEXT, 4, false)
                    .withDcp(TinyLlama.Dcp.random(41 + i, LAYERS, 16, 4, 0.5, BIASES[i]))
                    .write(files[i]);
        }
    }

    @AfterContainer
    static void delete() throws IOException {
        for (Path file : files) {
            if (file != null) {
                Files.deleteIfExists(file);
            }
        }
    }

    @Property(tries = 40)
    void noLayerEverHoldsMoreThanTheBudget(@ForAll @IntRange(min = 1, max = 90) int budget,
                                           @ForAll @IntRange(min = 0, max = 2) int modelIndex,
                                           @ForAll @IntRange(min = 1, max = 300) int promptLength,
                                           @ForAll @IntRange(min = 0, max = 60) int decoded,
                                           @ForAll long seed) throws IOException {
        SplittableRandom random = new SplittableRandom(seed);
        PruningPolicy policy = PruningPolicy.parse("dcp:budget=" + budget);
        try (Model model = Model.load(files[modelIndex]);
             Engine engine = new Engine(model, EngineConfig.single(1, CONTEXT, policy))) {
            Sequence sequence = engine.newSequence(SequenceOptions.forced(null));
            sequence.acceptPrompt(random.ints(promptLength, 0, VOCAB).toArray());
            boolean read;
            do {
                read = sequence.readBlock();
                assertWithinBudget(sequence.cache(), budget, "after a prompt block ending at " + sequence.position());
            } while (!read);
            for (int i = 0; i < decoded; i++) {
                sequence.feed(random.nextInt(VOCAB));
                assertWithinBudget(sequence.cache(), budget, "after the step at " + sequence.position());
            }
        }
    }

    @Property(tries = 20)
    void theBudgetShrinksThePagePool(@ForAll @IntRange(min = 1, max = 400) int budget) throws IOException {
        try (Model model = Model.load(files[0]);
             Engine budgeted = new Engine(model, EngineConfig.single(1, CONTEXT, new PruningPolicy.Dcp(new DcpTarget.Budget(budget))));
             Engine unbounded = new Engine(model, EngineConfig.single(1, CONTEXT, new PruningPolicy.Dcp()))) {
            int pageSize = budgeted.pages().pageSize();
            long pagesPerLayer = (Math.min(CONTEXT, budget + dev.winnow.engine.model.LlamaModel.DEFAULT_BLOCK) + pageSize - 1) / pageSize;
            assertTrue(budgeted.pages().maxPages() == LAYERS * pagesPerLayer
                            && budgeted.pages().maxPages() <= unbounded.pages().maxPages(),
                    "budget %d: %d pages, %d without a budget".formatted(budget, budgeted.pages().maxPages(),
                            unbounded.pages().maxPages()));
        }
    }

    private static void assertWithinBudget(PagedKvCache cache, int budget, String when) {
        for (int layer = 0; layer < LAYERS; layer++) {
            assertTrue(cache.tokens(layer) <= budget,
                    "layer %d holds %d tokens, budget %d, %s".formatted(layer, cache.tokens(layer), budget, when));
        }
    }
}
