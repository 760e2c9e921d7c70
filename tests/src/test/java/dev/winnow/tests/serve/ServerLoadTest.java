package dev.winnow.tests.serve;

import dev.winnow.engine.model.Model;
import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A bounded load test on stories260K over loopback: one streaming client, then four at once, each sending four
 * requests of 64 tokens. Every request must succeed with exactly its tokens, the batch must really hold several
 * sequences, and afterwards no KV page may be held. The throughput figures are printed, not asserted (the
 * measured ratios are in docs/performance-server.md).
 */
class ServerLoadTest {
    private static final int CLIENTS = 4;
    private static final int REQUESTS_PER_CLIENT = 4;
    private static final int TOKENS = 64;

    @Test
    void concurrentStreamingClientsAllSucceedAndLeaveNoPageBehind() throws Exception {
        try (Model model = Model.load(SharedFiles.requireShared("models/stories260K.gguf"));
             ServerHarness harness = new ServerHarness(model, CLIENTS, 64, 512, 1 << 20)) {
            LoadRun.Result warmUp = LoadRun.run(harness, CLIENTS, 1, TOKENS, "Once upon a time", 120);
            assertTrue(warmUp.failures().isEmpty(), warmUp.failures().toString());
            LoadRun.Result single = LoadRun.run(harness, 1, REQUESTS_PER_CLIENT, TOKENS, "Once upon a time", 120);
            double stepsBefore = harness.metric("winnow_decode_steps_total");
            double rowsBefore = harness.metric("winnow_decode_rows_total");
            LoadRun.Result many = LoadRun.run(harness, CLIENTS, REQUESTS_PER_CLIENT, TOKENS, "Once upon a time", 120);
            double meanBatch = (harness.metric("winnow_decode_rows_total") - rowsBefore)
                    / (harness.metric("winnow_decode_steps_total") - stepsBefore);

            assertTrue(single.failures().isEmpty(), single.failures().toString());
            assertTrue(many.failures().isEmpty(), many.failures().toString());
            assertEquals((long) CLIENTS * REQUESTS_PER_CLIENT * TOKENS, many.tokens());
            assertTrue(meanBatch > 1, "concurrent sequences share decode steps (mean batch " + meanBatch + ")");
            harness.awaitMetric("winnow_kv_pages_in_use", pages -> pages == 0);
            harness.awaitMetric("winnow_active_sequences", active -> active == 0);
            assertEquals(0, harness.metric("winnow_queue_depth"));
            System.err.printf("server load (stories260K, %d tokens/request): 1 client %.0f tok/s; %d clients %.0f tok/s "
                            + "(x%.2f), mean batch %.2f%n", TOKENS, single.tokensPerSecond(), CLIENTS,
                    many.tokensPerSecond(), many.tokensPerSecond() / single.tokensPerSecond(), meanBatch);
        }
    }
}
