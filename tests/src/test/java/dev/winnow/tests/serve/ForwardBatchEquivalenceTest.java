package dev.winnow.tests.serve;

import dev.winnow.engine.kv.PagePool;
import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.engine.model.LlamaModel;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.model.SequenceState;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tensors.WorkerPool;
import dev.winnow.tests.ForwardSequence;
import dev.winnow.tests.model.TinyLlama;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link LlamaModel#forwardBatch} over several sequences gives, segment for segment, exactly the logits and the
 * cache of one {@link LlamaModel#forward} call per sequence: on random tiny models (grouped-query attention,
 * partial RoPE, tied or separate output), with sequences that join and leave between steps in any order, each
 * reading one token (a decode row) or a block of several (a prompt chunk) beside the others, with or without its
 * logits, each with its own paged cache in one shared pool and its own pruner (none, window, TOVA, H2O or the
 * learned DCP module).
 */
class ForwardBatchEquivalenceTest {
    private static final int CONTEXT = 48;
    private static final int VOCAB = 41;
    /** The longest block a sequence reads in one batch. */
    private static final int MAX_SEGMENT = 5;

    @Property(tries = 60)
    void batchRowsEqualSeparateForwardCalls(@ForAll @IntRange(min = 1, max = 2) int layers,
                                            @ForAll @IntRange(min = 0, max = 1) int kvChoice,
                                            @ForAll boolean tied,
                                            @ForAll @IntRange(min = 1, max = 6) int sequences,
                                            @ForAll @IntRange(min = 1, max = 6) int steps,
                                            @ForAll @IntRange(min = 1, max = 8) int pageSize,
                                            @ForAll @IntRange(min = 1, max = 2) int threads,
                                            @ForAll long seed) throws Exception {
        int heads = 4;
        int dim = heads * 8;
        TinyLlama tiny = TinyLlama.random(seed, dim, layers, heads, kvChoice == 0 ? heads : 2, 2 * dim + 3, VOCAB,
                CONTEXT, 4, tied);
        float[] bias = new float[layers];
        Arrays.fill(bias, 0.3f);
        tiny = tiny.withDcp(TinyLlama.Dcp.random(seed + 1, layers, dim, 4, 0.5, bias));
        Path file = Files.createTempFile("batch-llama", ".gguf");
        try (AutoCloseable deleted = () -> Files.deleteIfExists(file)) {
            tiny.write(file);
            SplittableRandom random = new SplittableRandom(seed);
            try (Model model = Model.load(file); WorkerPool pool = new WorkerPool(threads);
                 PagePool separatePages = pool(model, pageSize); PagePool sharedPages = pool(model, pageSize)) {
                LlamaModel llama = model.llama();
                ForwardSequence[] separate = new ForwardSequence[sequences];
                ForwardSequence[] batched = new ForwardSequence[sequences];
                LlamaModel.State single = llama.newState(LlamaModel.DEFAULT_BLOCK, pool);
                for (int q = 0; q < sequences; q++) {
                    PruningPolicy policy = randomPolicy(random);
                    int[] prompt = random.ints(1 + random.nextInt(12), 0, VOCAB).toArray();
                    separate[q] = sequence(model, separatePages, policy, single);
                    batched[q] = sequence(model, sharedPages, policy, single);
                    float[] expected = separate[q].ingest(prompt).clone();
                    assertArrayEquals(expected, batched[q].ingest(prompt));
                }
                LlamaModel.State batch = llama.newState(sequences * MAX_SEGMENT, pool);
                for (int step = 0; step < steps; step++) {
                    List<Integer> rows = activeRows(random, sequences);
                    int[] counts = new int[rows.size()];
                    boolean[] wanted = new boolean[rows.size()];
                    int[] tokens = random.ints(rows.size() * MAX_SEGMENT, 0, VOCAB).toArray();
                    SequenceState[] batchRows = new SequenceState[rows.size()];
                    List<float[]> expected = new ArrayList<>();
                    for (int i = 0, offset = 0; i < rows.size(); offset += counts[i], i++) {
                        batchRows[i] = batched[rows.get(i)].state();
                        counts[i] = random.nextBoolean() ? 1 : 1 + random.nextInt(MAX_SEGMENT);
                        wanted[i] = random.nextInt(4) != 0;
                        float[] logits = separate[rows.get(i)].read(tokens, offset, counts[i], wanted[i]);
                        if (wanted[i]) {
                            expected.add(logits.clone());
                        }
                    }
                    float[] logits = llama.forwardBatch(batchRows, tokens, counts, wanted, rows.size(), batch);
                    for (int i = 0; i < rows.size(); i++) {
                        batchRows[i].advance(counts[i]);
                    }
                    for (int i = 0; i < expected.size(); i++) {
                        float[] row = Arrays.copyOfRange(logits, i * VOCAB, (i + 1) * VOCAB);
                        assertArrayEquals(expected.get(i), row, "step %d, logits %d".formatted(step, i));
                    }
                }
                for (int q = 0; q < sequences; q++) {
                    for (int layer = 0; layer < layers; layer++) {
                        assertArrayEquals(((PagedKvCache) separate[q].state().cache()).positions(layer),
                                ((PagedKvCache) batched[q].state().cache()).positions(layer),
                                "sequence %d keeps the same tokens in layer %d".formatted(q, layer));
                    }
                }
            }
        }
    }

    @Test
    void rowsSharingACacheOrTooManyRowsAreRefused() throws Exception {
        TinyLlama tiny = TinyLlama.random(7, 16, 1, 2, 2, 24, VOCAB, CONTEXT, 8, true);
        Path file = Files.createTempFile("batch-llama", ".gguf");
        try (AutoCloseable deleted = () -> Files.deleteIfExists(file)) {
            tiny.write(file);
            try (Model model = Model.load(file); WorkerPool pool = new WorkerPool(1); PagePool pages = pool(model, 4)) {
                LlamaModel llama = model.llama();
                LlamaModel.State state = llama.newState(2, pool);
                ForwardSequence sequence = sequence(model, pages, new PruningPolicy.None(), state);
                ForwardSequence other = sequence(model, pages, new PruningPolicy.None(), state);
                boolean[] logits = {true, true};
                IllegalArgumentException shared = assertThrows(IllegalArgumentException.class, () -> llama.forwardBatch(
                        new SequenceState[] {sequence.state(), sequence.state()}, new int[] {3, 4}, new int[] {1, 1},
                        logits, 2, state));
                assertTrue(shared.getMessage().contains("share one cache"), shared.getMessage());
                IllegalArgumentException tooMany = assertThrows(IllegalArgumentException.class, () -> llama.forwardBatch(
                        new SequenceState[] {sequence.state(), other.state()}, new int[3], new int[] {2, 1}, logits, 2,
                        state));
                assertTrue(tooMany.getMessage().contains("1 to 2 tokens"), tooMany.getMessage());
                IllegalArgumentException outside = assertThrows(IllegalArgumentException.class, () -> llama.forwardBatch(
                        new SequenceState[] {sequence.state()}, new int[] {VOCAB}, new int[] {1}, logits, 1, state));
                assertTrue(outside.getMessage().contains("outside the vocabulary"), outside.getMessage());
            }
        }
    }

    /** A sequence of one of the test's pools with a policy of its own, reading prompts in blocks of 5. */
    private static ForwardSequence sequence(Model model, PagePool pages, PruningPolicy policy, LlamaModel.State state) {
        PagedKvCache cache = new PagedKvCache(pages, model.config().kvGeometry(CONTEXT));
        return new ForwardSequence(model, cache, policy.create(model, cache, null), state, 5);
    }

    private static PruningPolicy randomPolicy(SplittableRandom random) {
        return switch (random.nextInt(5)) {
            case 0 -> new PruningPolicy.None();
            case 1 -> new PruningPolicy.Window(1, 3);
            case 2 -> new PruningPolicy.Tova(5);
            case 3 -> new PruningPolicy.HeavyHitters(2, 3);
            default -> new PruningPolicy.Dcp();
        };
    }

    /** A non-empty subset of the sequences, in random order: sequences join and leave between steps. */
    private static List<Integer> activeRows(SplittableRandom random, int sequences) {
        List<Integer> rows = new ArrayList<>();
        for (int q = 0; q < sequences; q++) {
            if (random.nextInt(4) != 0) {
                rows.add(q);
            }
        }
        if (rows.isEmpty()) {
            rows.add(random.nextInt(sequences));
        }
        Collections.shuffle(rows, new java.util.Random(random.nextLong()));
        return rows;
    }

    private static PagePool pool(Model model, int pageSize) {
        int interaction = model.pruningModule().map(m -> m.interactionDim()).orElse(0);
        return new PagePool(model.config().kvHeads(), model.config().headDim(), interaction, pageSize, GgmlType.F32, 100_000);
    }
}
