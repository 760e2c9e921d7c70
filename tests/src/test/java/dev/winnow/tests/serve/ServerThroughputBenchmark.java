package dev.winnow.tests.serve;

import dev.winnow.cli.server.ConnectionLimits;
import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.EngineConfig;
import dev.winnow.engine.runtime.Sequence;
import dev.winnow.engine.runtime.SequenceOptions;
import dev.winnow.engine.sampling.SamplerConfig;
import dev.winnow.engine.serve.GenerationParams;
import dev.winnow.engine.serve.GenerationRequest;
import dev.winnow.engine.serve.Scheduler;
import dev.winnow.engine.serve.SchedulerConfig;
import dev.winnow.engine.serve.SequenceEvent;
import dev.winnow.engine.serve.SequenceHandle;
import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The measurement behind docs/performance-server.md, not part of the suite (its name is outside surefire's
 * default patterns, and it skips unless asked): run it with {@code ./mvnw -pl tests -am test
 * -Dtest=ServerThroughputBenchmark -Dsurefire.failIfNoSpecifiedTests=false -Dwinnow.serve.benchmark=MODEL}
 * (a GGUF path, or {@code stories260K} for the shared one).
 * Prints, as a Markdown table, the aggregate tokens/s of the decode step alone ({@link LlamaModel#forwardBatch}
 * over B sequences), of the same requests as the clients' submitted straight to a scheduler (prompts, sampling and
 * events, no HTTP), and of B concurrent streaming clients through the HTTP server, each against B = 1; then the
 * processor time of the JVM's threads during the HTTP runs, by what they do. Settings:
 * {@code winnow.serve.clients} (default 1,2,4,8), {@code winnow.serve.tokens} (tokens per request, 64),
 * {@code winnow.serve.requests} (requests per client, 4), {@code winnow.serve.threads} (2),
 * {@code winnow.serve.rounds} (3; the table shows the median and the range), {@code winnow.serve.llbench} (llama.cpp's
 * llbench from ../shared/tools/llamacpp-peer, default $LLBENCH: when given, its tokens/s for a block as large as the
 * most clients, on the same file and threads, and the most clients' HTTP figure against it).
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
            double[][] scheduled = new double[clients.length][rounds];
            double[][] served = new double[clients.length][rounds];
            double[] batch = new double[clients.length];
            CpuByThread[] cpu = new CpuByThread[clients.length];
            SchedulerConfig config = new SchedulerConfig(most, 256, 512, KvCacheConfig.defaults(), new PruningPolicy.None(),
                    threads);
            try (ServerHarness harness = new ServerHarness(model, config, 1 << 20, ConnectionLimits.DEFAULTS);
                 Scheduler scheduler = new Scheduler(model, config, System.err::println)) {
                // Warm-up: every configuration, over and over for at least winnow.serve.warmup seconds, so that no
                // round measures code the JIT has not compiled yet. One request per client was not enough for a
                // model as small as stories260K: its 8-against-1 ratio through HTTP read 1.68x with 8 requests per
                // client and 0.99-1.06x, as with 32, after this warm-up (docs/performance-server.md, 2026-12-08).
                long warmUpEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(Integer.getInteger("winnow.serve.warmup", 10));
                do {
                    for (int b : clients) {
                        decodeSteps(model, b, tokens, threads);
                        schedulerAlone(model, scheduler, b, 1, tokens);
                        LoadRun.run(harness, b, 1, tokens, PROMPT, 3600);
                    }
                } while (System.nanoTime() < warmUpEnd);
                // Rounds interleave the configurations, so a change in the machine's load hits them all alike.
                for (int round = 0; round < rounds; round++) {
                    for (int i = 0; i < clients.length; i++) {
                        decode[i][round] = decodeSteps(model, clients[i], tokens, threads);
                        scheduled[i][round] = schedulerAlone(model, scheduler, clients[i], requests, tokens);
                        double steps = harness.metric("winnow_decode_steps_total");
                        double rows = harness.metric("winnow_decode_rows_total");
                        CpuByThread before = CpuByThread.now();
                        LoadRun.Result result = LoadRun.run(harness, clients[i], requests, tokens, PROMPT, 3600);
                        cpu[i] = CpuByThread.now().since(before, cpu[i]);
                        assertTrue(result.failures().isEmpty(), result.failures().toString());
                        served[i][round] = result.tokensPerSecond();
                        batch[i] = (harness.metric("winnow_decode_rows_total") - rows)
                                / (harness.metric("winnow_decode_steps_total") - steps);
                    }
                }
            }
            System.err.printf("load average %.1f at the end%n", loadAverage());
            System.err.println("| sequences | decode step alone, tokens/s | vs 1 | scheduler alone, tokens/s | through HTTP, "
                    + "tokens/s | vs 1 client | HTTP / step | HTTP / scheduler | mean batch |");
            System.err.println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            for (int i = 0; i < clients.length; i++) {
                System.err.printf("| %d | %s | %.2fx | %s | %s | %.2fx | %.2fx | %.2fx | %.2f |%n", clients[i],
                        spread(decode[i]), median(decode[i]) / median(decode[0]), spread(scheduled[i]),
                        spread(served[i]), median(served[i]) / median(served[0]), median(served[i]) / median(decode[i]),
                        median(served[i]) / median(scheduled[i]), batch[i]);
            }
            String llbench = System.getProperty("winnow.serve.llbench", System.getenv("LLBENCH"));
            if (llbench != null && !which.equals("stories260K")) {
                double peer = llamaCppBlock(llbench, path, most, tokens, threads);
                System.err.printf("%nllama.cpp, a block of %d tokens (llbench --pp %d --reps 5), right after: %.1f tokens/s; "
                        + "%d clients through HTTP: %.1f, %.2fx%n", most, most, peer, most, median(served[clients.length - 1]),
                        median(served[clients.length - 1]) / peer);
            }
            System.err.println();
            System.err.println("Processor time during the HTTP runs, all rounds, by thread (seconds; share of the total):");
            System.err.println("| clients | " + String.join(" | ", CpuByThread.GROUPS) + " |");
            System.err.println("|---:" + "|---:".repeat(CpuByThread.GROUPS.size()) + "|");
            for (int i = 0; i < clients.length; i++) {
                System.err.println("| " + clients[i] + " | " + cpu[i].row() + " |");
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

    /**
     * Tokens/s of the same requests as the HTTP clients send ({@link LoadRun}'s temperature and seeds), submitted
     * straight to a scheduler by B clients that read each request's events: the decode loop with its prompt passes,
     * sampling and events, but no HTTP, JSON or sockets.
     */
    private static double schedulerAlone(Model model, Scheduler scheduler, int clients, int requests, int tokens)
            throws InterruptedException {
        int[] prompt = model.tokenizer().encode(PROMPT, model.vocabulary().addBos(), true);
        LoadRun.Result result = LoadRun.run(clients, requests, 3600, (id, r) -> {
            SamplerConfig sampling = new SamplerConfig((float) LoadRun.TEMPERATURE, 0, 1f, 0f, 1f, 64, LoadRun.seed(id, r));
            SequenceHandle handle = scheduler.submit(new GenerationRequest(prompt,
                    new GenerationParams(sampling, 0, 0, Map.of(), tokens, List.of(), true), new int[0]));
            SequenceEvent event;
            do {
                event = handle.poll(1, TimeUnit.MINUTES);
            } while (event != null && !event.isLast());
            if (!(event instanceof SequenceEvent.Finished finished) || finished.completionTokens() != tokens) {
                throw new AssertionError("ended with " + event);
            }
            return finished.completionTokens();
        });
        assertTrue(result.failures().isEmpty(), result.failures().toString());
        return result.tokensPerSecond();
    }

    /** llama.cpp's tokens/s for a block of {@code block} tokens on the same file and threads: llbench's pp median. */
    private static double llamaCppBlock(String llbench, Path model, int block, int tokens, int threads) throws Exception {
        Process process = new ProcessBuilder(llbench, "--model", model.toString(), "--threads", String.valueOf(threads),
                "--pp", String.valueOf(block), "--n", String.valueOf(tokens), "--reps", "5", "--fa", "off")
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int exit = process.waitFor();
        Matcher median = Pattern.compile(" pp_tps_median=([0-9.]+)").matcher(output);
        if (exit != 0 || !median.find()) {
            throw new IllegalStateException(llbench + " exited with " + exit + " and printed no pp_tps_median: " + output);
        }
        return Double.parseDouble(median.group(1));
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


    /**
     * Processor time of the JVM's platform threads by what they do: the decode loop and the engine's workers, the
     * carriers of the virtual threads (the server's request handlers), Jetty's selector and acceptor, this
     * benchmark's HTTP clients ({@link LoadRun}'s threads and the {@link java.net.http.HttpClient}'s own), and the
     * rest (the JIT compilers, the garbage collector).
     */
    private record CpuByThread(double[] seconds) {
        static final List<String> GROUPS = List.of("decode loop and workers", "request handlers (virtual-thread carriers)",
                "Jetty", "benchmark clients", "other (JIT, GC, the rest)");

        static CpuByThread now() {
            ThreadMXBean threads = ManagementFactory.getThreadMXBean();
            double[] seconds = new double[GROUPS.size()];
            for (ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
                if (info == null) {
                    continue;
                }
                long nanos = threads.getThreadCpuTime(info.getThreadId());
                if (nanos > 0) {
                    seconds[group(info.getThreadName())] += nanos / 1e9;
                }
            }
            return new CpuByThread(seconds);
        }

        private static int group(String name) {
            if (name.startsWith("winnow-decode-loop") || name.startsWith("winnow-worker")) {
                return 0;
            }
            if (name.startsWith("ForkJoinPool")) {
                return 1;
            }
            if (name.startsWith("winnow-http")) {
                return 2;
            }
            return name.startsWith("load-client") || name.startsWith("HttpClient") ? 3 : 4;
        }

        /** This minus earlier, plus what total already held (null: nothing). */
        CpuByThread since(CpuByThread earlier, CpuByThread total) {
            double[] d = seconds.clone();
            for (int g = 0; g < d.length; g++) {
                d[g] += -earlier.seconds[g] + (total == null ? 0 : total.seconds[g]);
            }
            return new CpuByThread(d);
        }

        String row() {
            double total = Arrays.stream(seconds).sum();
            StringBuilder row = new StringBuilder();
            for (double s : seconds) {
                row.append(row.isEmpty() ? "" : " | ").append("%.2f (%.0f%%)".formatted(s, 100 * s / total));
            }
            return row.toString();
        }
    }

    private static double loadAverage() {
        return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    }
}
