package dev.winnow.tests.serve;

import dev.winnow.engine.kv.KvBudget;
import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.serve.SchedulerConfig;
import dev.winnow.engine.serve.SequenceStatus;
import dev.winnow.engine.serve.ServerMetrics;
import dev.winnow.cli.server.ConnectionLimits;
import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Pruning as serving capacity, the measurement behind docs/performance-server.md; not part of the suite (it skips
 * unless asked): {@code ./mvnw -pl tests -am verify -Dtest=ServerCapacityBenchmark
 * -Dsurefire.failIfNoSpecifiedTests=false -Dwinnow.serve.capacity=MODEL} (a GGUF path, or {@code stories260K}).
 * One fixed KV budget (room for {@code winnow.serve.dense} dense conversations), {@code winnow.serve.clients}
 * clients at once, each one conversation of {@code winnow.serve.tokens} generated tokens; for each policy in
 * {@code winnow.serve.policies} (';'-separated pruning specs) it prints how many sequences the decode steps
 * carried on average, the most held at once past nine tenths of their conversation, the preemptions, the KV bytes
 * a sequence held at most, the pruned fraction at a conversation's end, and the aggregate tokens/s.
 */
class ServerCapacityBenchmark {
    private static final String PROMPT = "Once upon a time";

    @Test
    void sequencesHeldUnderOneKvBudget() throws Exception {
        String which = System.getProperty("winnow.serve.capacity");
        if (which == null) {
            System.err.println("skipped ServerCapacityBenchmark: a benchmark, run with -Dwinnow.serve.capacity=MODEL");
        }
        assumeTrue(which != null, "a benchmark: run with -Dwinnow.serve.capacity=MODEL");
        Path path = which.equals("stories260K") ? SharedFiles.requireShared("models/stories260K.gguf") : Path.of(which);
        int tokens = Integer.getInteger("winnow.serve.tokens", 1024);
        int clients = Integer.getInteger("winnow.serve.clients", 16);
        int dense = Integer.getInteger("winnow.serve.dense", 4);
        int threads = Integer.getInteger("winnow.serve.threads", 2);
        int context = Integer.getInteger("winnow.serve.context", 2048);
        List<String> policies = List.of(System.getProperty("winnow.serve.policies", "none;window:4:200").split(";"));
        try (Model model = Model.load(path)) {
            int conversation = model.tokenizer().encode(PROMPT, model.vocabulary().addBos(), true).length + tokens;
            KvBudget budget = KvBudget.tokens((long) dense * conversation);
            System.err.printf("%n%s, %d threads, context %d, KV budget %s (%d dense conversations of %d tokens), "
                            + "%d clients at once, load average %.1f at the start%n", path.getFileName(), threads,
                    context, budget, dense, conversation, clients, loadAverage());
            StringBuilder table = new StringBuilder("""
                    | --prune | sequences per decode step, mean | most at once past %,d tokens | preemptions | KV bytes per sequence, most | pruned fraction at the end | tokens/s | failed |
                    |---|---:|---:|---:|---:|---:|---:|---:|
                    """.formatted(longPast(conversation)));
            for (String spec : policies) {
                SchedulerConfig config = new SchedulerConfig(clients, clients, context,
                        new KvCacheConfig(KvCacheConfig.DEFAULT_PAGE_SIZE, KvCacheConfig.defaults().storage(), budget),
                        PruningPolicy.parse(spec), threads);
                try (ServerHarness harness = new ServerHarness(model, config, 1 << 20, ConnectionLimits.DEFAULTS)) {
                    LoadRun.run(harness, 2, 1, 32, PROMPT, 3600); // warm-up
                    ServerMetrics metrics = harness.server.metrics();
                    double steps = harness.metric("winnow_decode_steps_total");
                    double rows = harness.metric("winnow_decode_rows_total");
                    double preempted = harness.metric("winnow_preemptions_total");
                    Watch watch = new Watch(metrics, longPast(conversation));
                    Thread watcher = Thread.ofPlatform().daemon().start(watch);
                    LoadRun.Result result = LoadRun.run(harness, clients, 1, tokens, PROMPT, 3600);
                    watch.running.set(false);
                    watcher.join();
                    table.append("| %s | %.2f | %d | %.0f | %,d | %.2f | %.1f | %d |%n".formatted(spec,
                            (harness.metric("winnow_decode_rows_total") - rows) / (harness.metric("winnow_decode_steps_total") - steps),
                            watch.mostLong, harness.metric("winnow_preemptions_total") - preempted, watch.mostBytes,
                            watch.prunedAtLongest, result.tokensPerSecond(), result.failures().size()));
                    assertTrue(result.failures().isEmpty(), result.failures().toString());
                }
            }
            System.err.printf("load average %.1f at the end%n%s", loadAverage(), table);
        }
    }

    /** A conversation counts as long past nine tenths of its length. */
    private static int longPast(int conversation) {
        return conversation * 9 / 10;
    }

    /**
     * Samples the published batch every few milliseconds: the most sequences at once that are long, the most
     * bytes one sequence held, and the pruned fraction of the longest sequence seen.
     */
    private static final class Watch implements Runnable {
        final AtomicBoolean running = new AtomicBoolean(true);
        final ServerMetrics metrics;
        final int longPast;
        int mostLong;
        long mostBytes;
        int longest;
        double prunedAtLongest;

        Watch(ServerMetrics metrics, int longPast) {
            this.metrics = metrics;
            this.longPast = longPast;
        }

        @Override
        public void run() {
            while (running.get()) {
                int holdingLong = 0;
                for (SequenceStatus sequence : metrics.sequences()) {
                    holdingLong += sequence.position() > longPast ? 1 : 0;
                    mostBytes = Math.max(mostBytes, sequence.kvBytes());
                    if (sequence.position() >= longest) {
                        longest = sequence.position();
                        prunedAtLongest = sequence.prunedFraction();
                    }
                }
                mostLong = Math.max(mostLong, holdingLong);
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    private static double loadAverage() {
        return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    }
}
