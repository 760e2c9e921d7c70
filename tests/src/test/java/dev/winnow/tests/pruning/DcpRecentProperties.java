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
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --prune dcp:recent=W}: on a tiny random model whose module prunes hard, with prompts read in blocks and
 * tokens decoded one by one, every layer holds each of the last W tokens after every step, and a token it no
 * longer holds never comes back. PruningReferenceTest checks the exact decisions against the definition.
 */
class DcpRecentProperties {
    private static final int CONTEXT = 400;
    private static final int LAYERS = 3;
    private static final int VOCAB = 64;
    private static Path file;

    @BeforeContainer
    static void write() throws IOException {
        file = Files.createTempFile("dcp-recent", ".gguf");
        TinyLlama.random(57, 16, LAYERS, 4, 2, 40, VOCAB, CONTEXT, 4, false)
                .withDcp(TinyLlama.Dcp.random(58, LAYERS, 16, 4, 0.5, new float[] {-1, -0.2f, 0.3f}))
                .write(file);
    }

    @AfterContainer
    static void delete() throws IOException {
        if (file != null) {
            Files.deleteIfExists(file);
        }
    }

    @Property(tries = 30)
    void theLastTokensStayAndDroppedOnesNeverReturn(@ForAll @IntRange(min = 1, max = 120) int recent,
                                                    @ForAll @DoubleRange(min = -2, max = 2) double offset,
                                                    @ForAll @IntRange(min = 1, max = 300) int promptLength,
                                                    @ForAll @IntRange(min = 0, max = 60) int decoded,
                                                    @ForAll long seed) throws IOException {
        SplittableRandom random = new SplittableRandom(seed);
        PruningPolicy policy = PruningPolicy.parse("dcp:offset=%s:recent=%d".formatted(offset, recent));
        try (Model model = Model.load(file);
             Engine engine = new Engine(model, EngineConfig.single(1, CONTEXT, policy))) {
            Sequence sequence = engine.newSequence(SequenceOptions.forced(null));
            sequence.acceptPrompt(random.ints(promptLength, 0, VOCAB).toArray());
            List<int[]> previous = new ArrayList<>();
            boolean read;
            do {
                read = sequence.readBlock();
                check(sequence.cache(), recent, sequence.position(), previous);
            } while (!read);
            for (int i = 0; i < decoded; i++) {
                sequence.feed(random.nextInt(VOCAB));
                check(sequence.cache(), recent, sequence.position(), previous);
            }
        }
    }

    @Property(tries = 50)
    void theSpecReadsBackAsWritten(@ForAll @IntRange(min = 0, max = 1000) int recent,
                                   @ForAll @DoubleRange(min = -100, max = 100) double offset) {
        PruningPolicy policy = new PruningPolicy.Dcp(new DcpTarget.Offset(offset), recent);
        assertEquals(policy, PruningPolicy.parse(policy.toString()));
        assertEquals(policy, PruningPolicy.parse("dcp:recent=%d:offset=%s".formatted(recent, offset)));
    }

    /** {@code next} is the position after the last token read, whose query saw the W before it: next - 1 - W on. */
    private static void check(PagedKvCache cache, int recent, int next, List<int[]> previous) {
        for (int layer = 0; layer < LAYERS; layer++) {
            int[] held = cache.positions(layer);
            for (int p = Math.max(0, next - 1 - recent); p < next; p++) {
                assertTrue(Arrays.binarySearch(held, p) >= 0,
                        "layer %d lost token %d, within %d of the query at %d".formatted(layer, p, recent, next - 1));
            }
            if (previous.size() > layer) {
                int[] before = previous.get(layer);
                int newest = before.length == 0 ? -1 : before[before.length - 1];
                for (int p : held) {
                    assertTrue(p > newest || Arrays.binarySearch(before, p) >= 0,
                            "layer %d: token %d came back after being dropped".formatted(layer, p));
                }
                previous.set(layer, held);
            } else {
                previous.add(held);
            }
        }
    }
}
