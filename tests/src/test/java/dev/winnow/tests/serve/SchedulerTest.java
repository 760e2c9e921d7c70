package dev.winnow.tests.serve;

import dev.winnow.engine.kv.KvBudget;
import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.EngineConfig;
import dev.winnow.engine.runtime.Generator;
import dev.winnow.engine.runtime.SequenceOptions;
import dev.winnow.engine.sampling.Sampler;
import dev.winnow.engine.sampling.SamplerConfig;
import dev.winnow.engine.serve.FinishReason;
import dev.winnow.engine.serve.GenerationParams;
import dev.winnow.engine.serve.GenerationRequest;
import dev.winnow.engine.serve.RejectedRequestException;
import dev.winnow.engine.serve.Scheduler;
import dev.winnow.engine.serve.SchedulerConfig;
import dev.winnow.engine.serve.SequenceEvent;
import dev.winnow.engine.serve.SequenceHandle;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The continuous-batching scheduler on stories260K, without HTTP: sequences that share the batch produce exactly
 * what each would produce alone, the KV budget makes requests wait or ends the newest sequence only, cancelled
 * sequences free their pages, and requests that can never fit are refused.
 */
class SchedulerTest {
    private static final int CONTEXT = 256;
    private static final String[] PROMPTS = {"Once upon a time", "Tom and Lily", "The cat", "One day, a little girl",
            "Sam had a big red ball", "There was a dog"};
    private static Model model;

    @BeforeAll
    static void load() throws IOException {
        model = Model.load(SharedFiles.requireShared("models/stories260K.gguf"));
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    @Test
    void sequencesSharingTheBatchGenerateWhatEachGeneratesAlone() throws Exception {
        SamplerConfig greedy = SamplerConfig.greedy();
        SamplerConfig seeded = new SamplerConfig(0.9f, 40, 0.95f, 0.05f, 1f, 64, 1234);
        try (Scheduler scheduler = scheduler(4, 16, null, new PruningPolicy.None())) {
            List<SequenceHandle> handles = new ArrayList<>();
            for (int i = 0; i < PROMPTS.length; i++) {
                handles.add(scheduler.submit(request(PROMPTS[i], i % 2 == 0 ? greedy : seeded, 40 + 7 * i)));
            }
            for (int i = 0; i < PROMPTS.length; i++) {
                Outcome outcome = Outcome.drain(handles.get(i), 30);
                Solo solo = solo(PROMPTS[i], i % 2 == 0 ? greedy : seeded, 40 + 7 * i, new PruningPolicy.None());
                assertEquals(solo.text, outcome.text(), "prompt " + i);
                assertEquals(solo.generated, outcome.finished().completionTokens(), "prompt " + i);
                assertEquals(encode(PROMPTS[i]).length, outcome.finished().promptTokens());
            }
            awaitTrue(() -> scheduler.metrics().pagesInUse() == 0 && scheduler.metrics().activeSequences() == 0,
                    "every page back in the pool");
            assertTrue(scheduler.metrics().prometheusText().contains("winnow_generated_tokens_total "));
        }
    }

    @Test
    void prunedSequencesSharingThePoolGenerateWhatEachGeneratesAlone() throws Exception {
        PruningPolicy window = new PruningPolicy.Window(4, 12);
        try (Scheduler scheduler = scheduler(3, 8, null, window)) {
            List<SequenceHandle> handles = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                handles.add(scheduler.submit(request(PROMPTS[i], SamplerConfig.greedy(), 80)));
            }
            for (int i = 0; i < 3; i++) {
                assertEquals(solo(PROMPTS[i], SamplerConfig.greedy(), 80, window).text,
                        Outcome.drain(handles.get(i), 30).text(), "prompt " + i);
            }
            String metrics = scheduler.metrics().prometheusText();
            assertTrue(metricValue(metrics, "winnow_kv_slots_pruned_total") > 0, metrics);
        }
    }

    @Test
    void aShortBudgetMakesSequencesWaitOrPauseAndTheyStillGenerateWhatTheyWouldAlone() throws Exception {
        // Room for about one sequence of 5 + 60 tokens at a time: the others wait in the queue, or are preempted
        // and resumed, and none of that shows in the text.
        try (Scheduler scheduler = scheduler(4, 8, KvBudget.tokens(80), new PruningPolicy.None())) {
            List<SequenceHandle> handles = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                handles.add(scheduler.submit(request(PROMPTS[i], SamplerConfig.greedy(), 60)));
            }
            for (int i = 0; i < 4; i++) {
                Outcome outcome = Outcome.drain(handles.get(i), 30);
                assertEquals(solo(PROMPTS[i], SamplerConfig.greedy(), 60, new PruningPolicy.None()).text, outcome.text());
                assertTrue(outcome.finished().reason() != FinishReason.KV_BUDGET_FULL, outcome.toString());
            }
            awaitTrue(() -> scheduler.metrics().pagesInUse() == 0, "every page back in the pool");
        }
    }

    @ParameterizedTest(name = "--prune {0}")
    @ValueSource(strings = {"none", "window:4:120", "h2o:60:60", "tova:120"})
    void whenThePoolRunsOutTheNewestSequenceIsPreemptedAndResumesWhereItWas(String prune) throws Exception {
        // Each sequence fits alone (5 + 200 tokens in 13 pages of 16 per layer), two do not, even pruned to at
        // most 124 tokens (8 pages) each: the newer one is sent back to the queue and resumes when the older one
        // ends, with the same text as alone (re-read step by step, so that h2o and tova keep the same tokens).
        PruningPolicy policy = PruningPolicy.parse(prune);
        SamplerConfig seeded = new SamplerConfig(0.8f, 40, 0.95f, 0.05f, 1f, 64, 99);
        KvCacheConfig kv = new KvCacheConfig(16, GgmlType.F16, KvBudget.tokens(208));
        try (Scheduler scheduler = new Scheduler(model, new SchedulerConfig(2, 4, CONTEXT, kv, policy, 2),
                System.err::println)) {
            GenerationParams params = new GenerationParams(seeded, 0, 0, Map.of(), 200, List.of(), true);
            // Submitted back to back (the queue keeps their order), so that both are in the batch for most of their
            // 200 tokens: waiting for the older one's first token let it run ahead under load, and once (1 of 10
            // runs at load ~15) the two never needed more pages at once than the pool has: no preemption.
            SequenceHandle older = scheduler.submit(new GenerationRequest(encode(PROMPTS[0]), params, null));
            SequenceHandle newer = scheduler.submit(new GenerationRequest(encode(PROMPTS[1]), params, null));
            Outcome newerOutcome = Outcome.drain(newer, 30);
            assertEquals(FinishReason.TOKEN_LIMIT, newerOutcome.finished().reason());
            assertEquals(soloIgnoringEos(PROMPTS[1], seeded, 200, CONTEXT, policy), newerOutcome.text());
            Outcome olderOutcome = Outcome.drain(older, 30);
            assertEquals(200, olderOutcome.finished().completionTokens());
            String metrics = scheduler.metrics().prometheusText();
            assertTrue(metricValue(metrics, "winnow_preemptions_total") >= 1, metrics);
            awaitTrue(() -> scheduler.metrics().pagesInUse() == 0, "every page back in the pool");
        }
    }

    @Test
    void aSequenceThatOutgrowsTheWholeBudgetEndsWithLength() throws Exception {
        // 64 tokens per layer: a prompt of 5 leaves room for 59 fed tokens, and the 60th is still sampled.
        try (Scheduler scheduler = scheduler(1, 4, KvBudget.tokens(64), new PruningPolicy.None())) {
            GenerationParams params = new GenerationParams(SamplerConfig.greedy(), 0, 0, Map.of(), 200, List.of(), true);
            Outcome outcome = Outcome.drain(scheduler.submit(new GenerationRequest(encode(PROMPTS[0]), params, null)), 30);
            assertEquals(FinishReason.KV_BUDGET_FULL, outcome.finished().reason());
            assertEquals("length", outcome.finished().reason().openAiName());
            assertEquals(64 - encode(PROMPTS[0]).length + 1, outcome.finished().completionTokens());
            assertEquals(soloIgnoringEos(PROMPTS[0], SamplerConfig.greedy(), outcome.finished().completionTokens(), CONTEXT,
                    new PruningPolicy.None()),
                    outcome.text());
            awaitTrue(() -> scheduler.metrics().pagesInUse() == 0, "every page back in the pool");
        }
    }

    @Test
    void aCancelledSequenceLeavesTheBatchAndFreesItsPages() throws Exception {
        try (Scheduler scheduler = scheduler(2, 4, null, new PruningPolicy.None())) {
            GenerationParams endless = new GenerationParams(SamplerConfig.greedy(), 0, 0, Map.of(), CONTEXT - 10, List.of(), true);
            SequenceHandle cancelled = scheduler.submit(new GenerationRequest(encode(PROMPTS[0]), endless, null));
            assertInstanceOf(SequenceEvent.Text.class, cancelled.poll(30, TimeUnit.SECONDS));
            awaitTrue(() -> scheduler.metrics().pagesInUse() > 0, "the sequence's pages in use");
            cancelled.cancel();
            SequenceEvent end;
            do {
                end = cancelled.poll(30, TimeUnit.SECONDS);
            } while (end instanceof SequenceEvent.Text);
            SequenceEvent.Failed failed = assertInstanceOf(SequenceEvent.Failed.class, end);
            assertEquals(SequenceEvent.Failure.CANCELLED, failed.failure());
            awaitTrue(() -> scheduler.metrics().pagesInUse() == 0 && scheduler.metrics().activeSequences() == 0,
                    "the cancelled sequence's pages back in the pool");
            assertTrue(scheduler.metrics().prometheusText().contains("winnow_sequences_finished_total{reason=\"cancelled\"} 1"));
        }
    }

    @Test
    void aFullQueueAndRequestsThatCanNeverFitAreRefused() throws Exception {
        try (Scheduler scheduler = scheduler(1, 1, KvBudget.tokens(CONTEXT), new PruningPolicy.None())) {
            GenerationParams endless = new GenerationParams(SamplerConfig.greedy(), 0, 0, Map.of(), CONTEXT - 10, List.of(), true);
            SequenceHandle running = scheduler.submit(new GenerationRequest(encode(PROMPTS[0]), endless, null));
            assertInstanceOf(SequenceEvent.Text.class, running.poll(30, TimeUnit.SECONDS));
            SequenceHandle queued = scheduler.submit(new GenerationRequest(encode(PROMPTS[1]), endless, null));
            RejectedRequestException full = assertThrows(RejectedRequestException.class,
                    () -> scheduler.submit(new GenerationRequest(encode(PROMPTS[2]), endless, null)));
            assertEquals(RejectedRequestException.Reason.QUEUE_FULL, full.reason());
            RejectedRequestException context = assertThrows(RejectedRequestException.class, () -> scheduler.submit(
                    new GenerationRequest(encode(PROMPTS[2]), GenerationParams.of(SamplerConfig.greedy(), CONTEXT), null)));
            assertEquals(RejectedRequestException.Reason.EXCEEDS_CONTEXT, context.reason());
            assertTrue(context.getMessage().contains("context holds " + CONTEXT), context.getMessage());
            IllegalArgumentException outside = assertThrows(IllegalArgumentException.class, () -> scheduler.submit(
                    new GenerationRequest(new int[] {1, 512}, GenerationParams.of(SamplerConfig.greedy(), 5), null)));
            assertTrue(outside.getMessage().contains("outside the vocabulary"), outside.getMessage());
            running.cancel();
            queued.cancel();
        }
        try (Scheduler scheduler = scheduler(1, 4, KvBudget.tokens(16), new PruningPolicy.None())) {
            int[] longPrompt = new int[40];
            java.util.Arrays.fill(longPrompt, 400);
            RejectedRequestException budget = assertThrows(RejectedRequestException.class, () -> scheduler.submit(
                    new GenerationRequest(longPrompt, GenerationParams.of(SamplerConfig.greedy(), 5), null)));
            assertEquals(RejectedRequestException.Reason.EXCEEDS_KV_BUDGET, budget.reason());
            assertTrue(budget.getMessage().contains("--kv-budget"), budget.getMessage());
        }
    }

    @Test
    void stopStringsCutTheTextAndShutdownFailsWhatIsLeft() throws Exception {
        Solo solo = solo(PROMPTS[0], SamplerConfig.greedy(), 60, new PruningPolicy.None());
        String stop = solo.text.substring(20, 24);
        int cut = solo.text.indexOf(stop);
        Scheduler scheduler = scheduler(2, 4, null, new PruningPolicy.None());
        try {
            GenerationParams params = new GenerationParams(SamplerConfig.greedy(), 0, 0, Map.of(), 60, List.of(stop, "\u0000never"), false);
            Outcome outcome = Outcome.drain(scheduler.submit(new GenerationRequest(encode(PROMPTS[0]), params, null)), 30);
            assertEquals(solo.text.substring(0, cut), outcome.text());
            assertEquals(FinishReason.STOP_SEQUENCE, outcome.finished().reason());
            GenerationParams endless = new GenerationParams(SamplerConfig.greedy(), 0, 0, Map.of(), CONTEXT - 10, List.of(), true);
            SequenceHandle running = scheduler.submit(new GenerationRequest(encode(PROMPTS[1]), endless, null));
            assertInstanceOf(SequenceEvent.Text.class, running.poll(30, TimeUnit.SECONDS));
            scheduler.shutdown(java.time.Duration.ZERO);
            SequenceEvent end;
            do {
                end = running.poll(30, TimeUnit.SECONDS);
            } while (end instanceof SequenceEvent.Text);
            assertEquals(SequenceEvent.Failure.SHUTTING_DOWN, assertInstanceOf(SequenceEvent.Failed.class, end).failure());
            RejectedRequestException closed = assertThrows(RejectedRequestException.class,
                    () -> scheduler.submit(request(PROMPTS[0], SamplerConfig.greedy(), 5)));
            assertEquals(RejectedRequestException.Reason.SHUTTING_DOWN, closed.reason());
            scheduler.shutdown(java.time.Duration.ofSeconds(1)); // a second shutdown does nothing
        } finally {
            scheduler.close();
        }
    }

    private static Scheduler scheduler(int parallel, int queue, KvBudget budget, PruningPolicy policy) {
        KvCacheConfig kv = new KvCacheConfig(KvCacheConfig.DEFAULT_PAGE_SIZE, GgmlType.F16, budget);
        return new Scheduler(model, new SchedulerConfig(parallel, queue, CONTEXT, kv, policy, 2), System.err::println);
    }

    private static GenerationRequest request(String prompt, SamplerConfig sampling, int maxTokens) {
        return new GenerationRequest(encode(prompt), GenerationParams.of(sampling, maxTokens), null);
    }

    static int[] encode(String prompt) {
        return model.tokenizer().encode(prompt, model.vocabulary().addBos(), true);
    }

    private record Solo(String text, int generated) {
    }

    /** What one sequence generates alone, through an engine of its own and the generator. */
    private static Solo solo(String prompt, SamplerConfig sampling, int maxTokens, PruningPolicy policy) {
        try (Engine engine = new Engine(model, EngineConfig.single(1, CONTEXT, policy))) {
            StringBuilder text = new StringBuilder();
            Generator.Result result = Generator.generate(engine.newSequence(SequenceOptions.of(Sampler.create(sampling),
                    model.tokenizer()::isEndOfGeneration)), encode(prompt), maxTokens, false, text::append);
            return new Solo(text.toString(), result.generatedTokens());
        }
    }

    /** Sampling through end-of-generation tokens, as a request with {@code ignore_eos} does. */
    private static String soloIgnoringEos(String prompt, SamplerConfig sampling, int maxTokens, int context,
                                          PruningPolicy policy) {
        try (Engine engine = new Engine(model, EngineConfig.single(1, context, policy))) {
            StringBuilder text = new StringBuilder();
            Generator.generate(engine.newSequence(SequenceOptions.of(Sampler.create(sampling), token -> false)),
                    encode(prompt), maxTokens, false, text::append);
            return text.toString();
        }
    }

    static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            Thread.sleep(5);
        }
    }

    static double metricValue(String text, String name) {
        for (String line : text.split("\n")) {
            if (line.startsWith(name + " ")) {
                return Double.parseDouble(line.substring(name.length() + 1));
            }
        }
        throw new AssertionError("no metric " + name + " in:\n" + text);
    }
}
