package dev.winnow.tests.serve;

import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.EngineConfig;
import dev.winnow.engine.runtime.Sequence;
import dev.winnow.engine.runtime.SequenceOptions;
import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The measurement behind docs/performance-server.md, not part of the suite (its name is outside surefire's
 * default patterns, and it skips unless asked): run it with {@code ./mvnw -pl tests -am test
 * -Dtest=ServerThroughputBenchmark -Dsurefire.failIfNoSpecifiedTests=false -Dwinnow.serve.benchmark=MODEL}
 * (a GGUF path, or {@code stories260K} for the shared one).
 * Prints, as a Markdown table, the aggregate tokens/s of the decode step alone ({@link LlamaModel#forwardBatch}
 * over B sequences) and of B concurrent streaming clients through the HTTP server, each against B = 1. Settings:
 * {@code winnow.serve.clients} (default 1,2,4,8), {@code winnow.serve.tokens} (tokens per request, 64),
 * {@code winnow.serve.requests} (requests per client, 4), {@code winnow.serve.threads} (2),
 * {@code winnow.serve.rounds} (3; the table shows the median and the range).
 */
class ServerThroughputBenchmark {
    private static final String PROMPT = "Once upon a time";

    @Test
    void throughputByConcurrency() throws Exception {
        String which = System.getProperty("winnow.serve.benchmark");
        if (which == null) {
            System.err.println("skipped ServerThroughputBenchmark: a benchmark, run with -Dwinnow.serve.benchmark=MODEL");
        }
        assumeTrue(which != null, "a benchmark: run with -Dwinnow.serve.benchmark=MODEL");
        Path path = which.equals("stories260K") ? SharedFiles.requireShared("models/stories260K.gguf") : Path.of(which);
        int[] clients = Arrays.stream(System.getProperty("winnow.serve.clients", "1,2,4,8").split(","))
                .mapToInt(Integer::parseInt).toArray();
        int tokens = Integer.getInteger("winnow.serve.tokens", 64);
        int requests = Integer.getInteger("winnow.serve.requests", 4);
        int threads = Integer.getInteger("winnow.serve.threads", 2);
        int rounds = Integer.getInteger("winnow.serve.rounds", 3);
        int most = Arrays.stream(clients).max().orElseThrow();
        try (Model model = Model.load(path)) {
            System.err.printf("%n%s, %d threads, %d tokens per request, %d requests per client, median of %d rounds "
                    + "(min..max), load average %.1f at the start%n", path.getFileName(), threads, tokens, requests,
                    rounds, loadAverage());
            double[][] decode = new double[clients.length][rounds];
            double[][] served = new double[clients.length][rounds];
            double[] batch = new double[clients.length];
            try (ServerHarness harness = new ServerHarness(model, most, 256, 512, 1 << 20, threads)) {
                // Warm-up: every configuration once, so that no round measures code the JIT has not compiled yet.
                for (int b : clients) {
                    decodeSteps(model, b, tokens, threads);
                    LoadRun.run(harness, b, 1, tokens, PROMPT, 3600);
                }
                // Rounds interleave the configurations, so a change in the machine's load hits them all alike.
                for (int round = 0; round < rounds; round++) {
                    for (int i = 0; i < clients.length; i++) {
                        decode[i][round] = decodeSteps(model, clients[i], tokens, threads);
                        double steps = harness.metric("winnow_decode_steps_total");
                        double rows = harness.metric("winnow_decode_rows_total");
                        LoadRun.Result result = LoadRun.run(harness, clients[i], requests, tokens, PROMPT, 3600);
                        assertTrue(result.failures().isEmpty(), result.failures().toString());
                        served[i][round] = result.tokensPerSecond();
                        batch[i] = (harness.metric("winnow_decode_rows_total") - rows)
                                / (harness.metric("winnow_decode_steps_total") - steps);
                    }
                }
            }
            System.err.printf("load average %.1f at the end%n", loadAverage());
            System.err.println("| sequences | decode step alone, tokens/s | vs 1 | through HTTP, tokens/s | vs 1 client | mean batch |");
            System.err.println("|---:|---:|---:|---:|---:|---:|");
            for (int i = 0; i < clients.length; i++) {
                System.err.printf("| %d | %s | %.2fx | %s | %.2fx | %.2f |%n", clients[i], spread(decode[i]),
                        median(decode[i]) / median(decode[0]), spread(served[i]), median(served[i]) / median(served[0]),
                        batch[i]);
            }
        }
    }

    /** Tokens/s of the decode step alone: B sequences of the prompt, {@code steps} batched steps, greedy. */
    private static double decodeSteps(Model model, int batch, int steps, int threads) {
        int[] prompt = model.tokenizer().encode(PROMPT, model.vocabulary().addBos(), true);
        int context = prompt.length + steps + 1;
        try (Engine engine = new Engine(model, new EngineConfig(threads, context, KvCacheConfig.defaults(),
                new PruningPolicy.None(), batch))) {
            Sequence[] rows = new Sequence[batch];
            for (int i = 0; i < batch; i++) {
                rows[i] = engine.newSequence(SequenceOptions.forced(null));
                rows[i].prefill(prompt);
                rows[i].sampleNext();
            }
            long start = System.nanoTime();
            for (int step = 0; step < steps; step++) {
                engine.step(rows, batch);
                for (Sequence row : rows) {
                    row.sampleNext();
                }
            }
            return (double) batch * steps / ((System.nanoTime() - start) / 1e9);
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted.length % 2 == 1 ? sorted[sorted.length / 2]
                : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
    }

    private static String spread(double[] values) {
        return "%.1f (%.1f..%.1f)".formatted(median(values), Arrays.stream(values).min().orElseThrow(),
                Arrays.stream(values).max().orElseThrow());
    }


    private static double loadAverage() {
        return java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    }
}
