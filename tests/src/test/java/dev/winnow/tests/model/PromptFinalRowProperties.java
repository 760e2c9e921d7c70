package dev.winnow.tests.model;

import dev.winnow.engine.kv.PagePool;
import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.engine.model.LlamaModel;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.model.SequenceState;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tensors.WorkerPool;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A prompt read in blocks skips the work nobody reads: {@link LlamaModel#forward} computes the last layer's
 * attention, output projection and feed-forward for the final token's row alone (none for a block without
 * logits) and the output matrix for that row alone. The final token's logits are, bit for bit, those of
 * {@link LlamaModel#forwardEveryToken}, which computes every row, and the pruner keeps the same tokens, for random
 * models (grouped-query included), prompts of 1 to 300 tokens in blocks of 1 to 128, and every pruning policy
 * (heavy hitters read every query's attention weights in the last layer, TOVA the final query's). The fourth shape
 * has one head of 64 values and reads 256 tokens more: its final row alone, a decode-sized query, spans two or three
 * of the cache's token ranges (256 slots each), which it may split across threads where every row's block cannot.
 */
class PromptFinalRowProperties {
    private static final int VOCAB = 37;
    private static final int CONTEXT = 560;
    /** Tokens the wide-head shape reads beyond the drawn length: one token range of 64-value heads. */
    private static final int WIDE_EXTRA = 256;

    @Property(tries = 40)
    void finalLogitsAreThoseOfComputingEveryRow(@ForAll @IntRange(min = 1, max = 300) int length,
                                                @ForAll @IntRange(min = 1, max = 128) int block,
                                                @ForAll @IntRange(min = 0, max = 3) int shape,
                                                @ForAll @IntRange(min = 0, max = 4) int policyChoice,
                                                @ForAll long seed) throws Exception {
        int[] heads = {4, 4, 2, 1};
        int[] kvHeads = {2, 4, 1, 1};
        boolean wide = shape == 3;
        int dim = wide ? 64 : 16;
        length += wide ? WIDE_EXTRA : 0;
        float[] bias = {0.3f, 0.3f};
        TinyLlama tiny = TinyLlama.random(seed, dim, 2, heads[shape], kvHeads[shape], 40, VOCAB, CONTEXT,
                dim / heads[shape], false).withDcp(TinyLlama.Dcp.random(seed + 1, 2, dim, 4, 0.5, bias));
        PruningPolicy policy = switch (policyChoice) {
            case 0 -> new PruningPolicy.None();
            case 1 -> new PruningPolicy.Window(2, 30);
            case 2 -> new PruningPolicy.Tova(40);
            case 3 -> new PruningPolicy.HeavyHitters(20, 20);
            default -> new PruningPolicy.Dcp();
        };
        int[] prompt = new SplittableRandom(seed).ints(length, 0, VOCAB).toArray();
        Path file = Files.createTempFile("final-row", ".gguf");
        try (AutoCloseable deleted = () -> Files.deleteIfExists(file)) {
            tiny.write(file);
            try (Model model = Model.load(file); WorkerPool workers = new WorkerPool(2);
                 PagePool skipping = pages(model); PagePool every = pages(model)) {
                LlamaModel llama = model.llama();
                LlamaModel.State state = llama.newState(LlamaModel.DEFAULT_BLOCK, workers);
                SequenceState skipped = sequence(model, skipping, policy);
                SequenceState computed = sequence(model, every, policy);
                float[] finalLogits = null;
                float[] everyRow = null;
                for (int at = 0; at < length; at += block) {
                    int count = Math.min(block, length - at);
                    boolean last = at + count == length;
                    finalLogits = llama.forward(skipped, prompt, at, count, state, last);
                    finalLogits = finalLogits == null ? null : finalLogits.clone();
                    everyRow = Arrays.copyOfRange(llama.forwardEveryToken(computed, prompt, at, count, state),
                            (count - 1) * VOCAB, count * VOCAB);
                    skipped.advance(count);
                    computed.advance(count);
                    for (int layer = 0; layer < 2; layer++) {
                        assertArrayEquals(((PagedKvCache) computed.cache()).positions(layer),
                                ((PagedKvCache) skipped.cache()).positions(layer), "layer %d after %d tokens in blocks of %d, %s".formatted(layer, at + count, block, policy));
                    }
                }
                for (int v = 0; v < VOCAB; v++) {
                    assertEquals(Float.floatToIntBits(everyRow[v]), Float.floatToIntBits(finalLogits[v]),
                            "logit %d after %d tokens in blocks of %d: every row %s, final row only %s".formatted(
                                    v, length, block, everyRow[v], finalLogits[v]));
                }
            }
        }
    }

    private static PagePool pages(Model model) {
        int interaction = model.pruningModule().map(m -> m.interactionDim()).orElse(0);
        return new PagePool(model.config().kvHeads(), model.config().headDim(), interaction, 8, GgmlType.F16, 2L * CONTEXT);
    }

    private static SequenceState sequence(Model model, PagePool pages, PruningPolicy policy) {
        PagedKvCache cache = new PagedKvCache(pages, model.config().kvGeometry(CONTEXT));
        return new SequenceState(cache, policy.create(model, cache, null));
    }
}
