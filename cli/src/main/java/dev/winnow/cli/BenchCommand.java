package dev.winnow.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.Sequence;
import dev.winnow.engine.runtime.SequenceOptions;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * {@code winnow bench}: prompt-processing and generation speed, the way llama-bench measures them. For each
 * depth and repetition a fresh sequence is filled with {@code depth} random tokens (not timed); then a prompt of
 * {@code -p} random tokens is read in one call (pp), and, in another fresh sequence filled the same way,
 * {@code -n} tokens are decoded one at a time (tg). Token ids are random and seeded: the speed of a forward pass
 * does not depend on which tokens it sees. Each test runs once untimed at each depth before it is measured. With
 * a pruning policy the same tests (same token ids) run again on a dense cache, for the comparison.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure prompt processing (pp) and generation (tg) speed in tokens/s, median and range over "
                + "repetitions, at chosen context depths, after one untimed warm-up run of each test; with peak "
                + "resident memory and KV cache bytes. With --prune, the same tests also run on a dense cache and a "
                + "second table gives the pruned/dense speed ratio.")
final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelFile modelFile;

    @Option(names = {"-p", "--n-prompt"}, paramLabel = "N",
            description = "Prompt tokens read per pp test; 0 skips it (default: ${DEFAULT-VALUE}).")
    int promptTokens = 512;

    @Option(names = {"-n", "--n-gen"}, paramLabel = "N",
            description = "Tokens decoded per tg test; 0 skips it (default: ${DEFAULT-VALUE}).")
    int generatedTokens = 128;

    @Option(names = {"-d", "--depth"}, split = ",", paramLabel = "D",
            description = "Context depths: tokens already in the cache before each test, comma separated (default: 0).")
    int[] depths = {0};

    @Mixin
    ModelOptions modelOptions;

    @Option(names = {"-r", "--reps"}, paramLabel = "R", description = "Repetitions of each test (default: ${DEFAULT-VALUE}).")
    int reps = 5;

    @Option(names = "--seed", paramLabel = "S", description = "Seed of the random token ids (default: ${DEFAULT-VALUE}).")
    long seed = 42;

    @Option(names = "--json", description = "Print one JSON object on stdout instead of the table.")
    boolean json;

    @Mixin
    PruneOptions pruneOptions;

    /** The speeds measured at one depth; an empty array where the test was skipped. */
    record DepthResult(int depth, double[] ppTps, double[] tgTps) {
    }

    /** Everything one run measured. */
    record Report(String model, long modelBytes, int threads, int promptTokens, int generatedTokens, int reps,
                  int contextLength, String kvType, String prune, double loadMillis, double firstTokenMillis,
                  double firstTokenSinceJvmStart, long peakRssBytes, long kvBytes, List<DepthResult> results,
                  List<DepthResult> dense) {
    }

    @Override
    public Integer call() throws IOException {
        validate();
        int needed = Arrays.stream(depths).max().orElseThrow() + Math.max(promptTokens, generatedTokens);
        if (modelOptions.contextLength == null) {
            modelOptions.contextLength = needed;
        } else if (modelOptions.contextLength < needed) {
            throw usage("--ctx %d is shorter than depth + tokens = %d".formatted(modelOptions.contextLength, needed));
        }
        PrintWriter err = spec.commandLine().getErr();
        Path model = modelFile.path(err);
        long loadStart = System.nanoTime();
        PruningPolicy policy = pruneOptions.policy();
        KvCacheConfig kvConfig = KvCacheConfig.defaults();
        try (Model loaded = LoadProgress.load(err, model, pruneOptions.adapter);
             Engine engine = modelOptions.engine(loaded, kvConfig, policy, 1, err);
             Engine denseEngine = policy instanceof PruningPolicy.None ? null
                     : modelOptions.engine(loaded, kvConfig, new PruningPolicy.None(), 1, err)) {
            double loadMillis = millisSince(loadStart);
            Runner runner = new Runner(engine);
            double firstTokenMillis = loadMillis + runner.firstTokenMillis();
            double firstTokenSinceJvmStart = secondsSinceJvmStart();
            err.println("winnow: each test runs once untimed before it is measured (warm-up), at every depth");
            err.flush();
            List<Runner> runners = denseEngine == null ? List.of(runner) : List.of(runner, new Runner(denseEngine));
            for (int depth : depths) {
                measure(runners, depth);
            }
            Report report = new Report(model.toString(), Files.size(model), modelOptions.threads, promptTokens,
                    generatedTokens, reps, modelOptions.contextLength, kvConfig.storage().name().toLowerCase(Locale.ROOT),
                    policy.toString(), loadMillis, firstTokenMillis, firstTokenSinceJvmStart, peakResidentBytes(),
                    runner.kvBytes, runner.results, denseEngine == null ? List.of() : runners.getLast().results);
            PrintWriter out = spec.commandLine().getOut();
            out.print(json ? toJson(report) + "\n" : toTable(report));
            out.flush();
        }
        return 0;
    }

    /**
     * Each test at {@code depth} on every runner: once untimed, as llama-bench does (the measured runs meet compiled
     * code, at the attention widths of this depth), then {@code reps} times, the runners taking turns so that the
     * pruned and the dense cache see the same state of the JIT and of the machine.
     */
    private void measure(List<Runner> runners, int depth) {
        for (Runner runner : runners) {
            runner.runOnce(depth, new double[1], new double[1], 0);
        }
        double[][] pp = new double[runners.size()][promptTokens > 0 ? reps : 0];
        double[][] tg = new double[runners.size()][generatedTokens > 0 ? reps : 0];
        for (int rep = 0; rep < reps; rep++) {
            for (int r = 0; r < runners.size(); r++) {
                runners.get(r).runOnce(depth, pp[r], tg[r], rep);
            }
        }
        for (int r = 0; r < runners.size(); r++) {
            runners.get(r).results.add(new DepthResult(depth, pp[r], tg[r]));
        }
    }

    private void validate() {
        if (promptTokens < 0 || generatedTokens < 0) {
            throw usage("-p and -n must be 0 or more, got -p %d -n %d".formatted(promptTokens, generatedTokens));
        }
        if (promptTokens == 0 && generatedTokens == 0) {
            throw usage("-p and -n are both 0: nothing to measure");
        }
        if (reps < 1) {
            throw usage("--reps must be at least 1, got " + reps);
        }
        if (depths.length == 0 || Arrays.stream(depths).anyMatch(d -> d < 0)) {
            throw usage("--depth must list depths of 0 or more, got " + Arrays.toString(depths));
        }
        if ((long) Arrays.stream(depths).max().orElseThrow() + Math.max(promptTokens, generatedTokens) > Integer.MAX_VALUE / 2) {
            throw usage("depth + tokens is too large");
        }
    }

    /** A wrong command line: exit 2 with the usage hint, as for every command. */
    private CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }

    /**
     * Runs the timed tests on fresh sequences of one engine, keeping each depth's speeds and the most KV memory any
     * test held.
     */
    private final class Runner {
        private final Engine engine;
        private final SplittableRandom random = new SplittableRandom(seed);
        /** Every test's sequence, pruned as --prune says, emptied before each. */
        private final Sequence sequence;
        final List<DepthResult> results = new ArrayList<>();
        long kvBytes;

        Runner(Engine engine) {
            this.engine = engine;
            this.sequence = engine.newSequence(SequenceOptions.forced(null));
        }

        /** The sequence, empty: its pages go back to the pool. */
        Sequence freshSequence() {
            kvBytes = Math.max(kvBytes, sequence.cache().bytesHeld());
            sequence.reset();
            return sequence;
        }

        /** The first forward pass of the process: one token, cold code, as a user's first prompt token meets it. */
        double firstTokenMillis() {
            freshSequence();
            long start = System.nanoTime();
            sequence.prefill(new int[1]); // token 0: not drawn, so that every runner's tests read the same ids
            return millisSince(start);
        }

        /** One run of each test at {@code depth}: the speeds go to {@code pp[rep]} and {@code tg[rep]}. */
        void runOnce(int depth, double[] pp, double[] tg, int rep) {
            if (promptTokens > 0) {
                filled(depth);
                int[] prompt = randomTokens(promptTokens);
                long start = System.nanoTime();
                sequence.prefill(prompt);
                pp[rep] = promptTokens / secondsSince(start);
            }
            if (generatedTokens > 0) {
                filled(depth);
                int[] tokens = randomTokens(generatedTokens);
                long start = System.nanoTime();
                for (int token : tokens) {
                    sequence.feed(token);
                }
                tg[rep] = generatedTokens / secondsSince(start);
            }
            freshSequence();
        }

        private void filled(int depth) {
            freshSequence();
            if (depth > 0) {
                sequence.prefill(randomTokens(depth));
            }
        }

        private int[] randomTokens(int count) {
            int[] tokens = new int[count];
            for (int i = 0; i < count; i++) {
                tokens[i] = randomToken();
            }
            return tokens;
        }

        private int randomToken() {
            return random.nextInt(engine.model().config().vocabularySize());
        }
    }

    private static double millisSince(long start) {
        return (System.nanoTime() - start) / 1e6;
    }

    private static double secondsSince(long start) {
        return (System.nanoTime() - start) / 1e9;
    }

    /** Seconds since this process started, the launcher that execs Java included (NaN where the system does not say). */
    private static double secondsSinceJvmStart() {
        return ProcessHandle.current().info().startInstant()
                .map(start -> Duration.between(start, Instant.now()).toNanos() / 1e9)
                .orElse(Double.NaN);
    }

    /** The process's peak resident set (VmHWM in /proc/self/status), or -1 where the system does not say. */
    static long peakResidentBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    String[] fields = line.substring("VmHWM:".length()).trim().split("\\s+");
                    return Long.parseLong(fields[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException unavailable) {
            // Not Linux, or an unexpected format: the report says "unknown".
        }
        return -1;
    }

    static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int mid = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    static String toTable(Report r) {
        StringBuilder s = new StringBuilder();
        s.append("| model | size | threads | test | t/s (median) | min - max |\n");
        s.append("| --- | ---: | ---: | --- | ---: | ---: |\n");
        String name = Path.of(r.model()).getFileName().toString();
        for (DepthResult d : r.results()) {
            String at = d.depth() > 0 ? " @ d" + d.depth() : "";
            appendRow(s, r, name, "pp" + r.promptTokens() + at, d.ppTps());
            appendRow(s, r, name, "tg" + r.generatedTokens() + at, d.tgTps());
        }
        if (!r.dense().isEmpty()) {
            s.append(String.format(Locale.ROOT, "%n| test | %s t/s | dense t/s | ratio |%n", r.prune()));
            s.append("| --- | ---: | ---: | ---: |\n");
            for (int i = 0; i < r.results().size(); i++) {
                DepthResult pruned = r.results().get(i);
                DepthResult dense = r.dense().get(i);
                String at = pruned.depth() > 0 ? " @ d" + pruned.depth() : "";
                appendComparison(s, "pp" + r.promptTokens() + at, pruned.ppTps(), dense.ppTps());
                appendComparison(s, "tg" + r.generatedTokens() + at, pruned.tgTps(), dense.tgTps());
            }
        }
        s.append(String.format(Locale.ROOT, "%nload %.0f ms, first token %.0f ms after the start of loading "
                        + "(%.2f s after the process started); peak resident memory %s; KV cache %s (%s, context %,d, "
                        + "pruning %s); %d repetitions after one untimed warm-up run of each test%n",
                r.loadMillis(), r.firstTokenMillis(), r.firstTokenSinceJvmStart(),
                r.peakRssBytes() < 0 ? "unknown" : mebibytes(r.peakRssBytes()),
                mebibytes(r.kvBytes()), r.kvType(), r.contextLength(), r.prune(), r.reps()));
        return s.toString();
    }

    /** One row of the pruned-against-dense table: medians and their ratio (above 1: pruning is faster). */
    private static void appendComparison(StringBuilder s, String test, double[] pruned, double[] dense) {
        if (pruned.length == 0) {
            return;
        }
        double prunedMedian = median(pruned);
        double denseMedian = median(dense);
        s.append(String.format(Locale.ROOT, "| %s | %.2f | %.2f | %.2fx |%n", test, prunedMedian, denseMedian,
                prunedMedian / denseMedian));
    }

    private static void appendRow(StringBuilder s, Report r, String name, String test, double[] tps) {
        if (tps.length == 0) {
            return;
        }
        double min = Arrays.stream(tps).min().orElseThrow();
        double max = Arrays.stream(tps).max().orElseThrow();
        s.append(String.format(Locale.ROOT, "| %s | %s | %d | %s | %.2f | %.2f - %.2f |%n",
                name, mebibytes(r.modelBytes()), r.threads(), test, median(tps), min, max));
    }

    private static String mebibytes(long bytes) {
        return String.format(Locale.ROOT, "%.2f MiB", bytes / (1024.0 * 1024.0));
    }

    /**
     * The report as one JSON object. The top-level speeds are those of the first depth; {@code depths} holds
     * every depth's. A skipped test has a null median and an empty list; numbers are rounded to three decimals.
     */
    static String toJson(Report r) {
        // A mapper made here and not held in a static field: picocli creates every command object at start-up, and
        // a static ObjectMapper cost every command, --version included, about half a second of class loading.
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("model", r.model());
        root.put("model_bytes", r.modelBytes());
        root.put("threads", r.threads());
        root.put("n_prompt", r.promptTokens());
        root.put("n_gen", r.generatedTokens());
        root.put("reps", r.reps());
        root.put("ctx", r.contextLength());
        root.put("kv_type", r.kvType());
        root.put("prune", r.prune());
        putNumber(root, "load_ms", r.loadMillis());
        putNumber(root, "ttft_ms", r.firstTokenMillis());
        putNumber(root, "ttft_s", r.firstTokenSinceJvmStart());
        putSpeeds(root, r.results().getFirst());
        if (r.peakRssBytes() < 0) {
            root.putNull("peak_rss_bytes");
        } else {
            root.put("peak_rss_bytes", r.peakRssBytes());
        }
        root.put("kv_bytes", r.kvBytes());
        putDepths(root.putArray("depths"), r.results());
        if (!r.dense().isEmpty()) {
            putDepths(root.putArray("dense"), r.dense());
        }
        try {
            return json.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("the bench report could not be written as JSON", e);
        }
    }

    private static void putDepths(ArrayNode array, List<DepthResult> results) {
        for (DepthResult d : results) {
            ObjectNode one = array.addObject();
            one.put("depth", d.depth());
            putSpeeds(one, d);
        }
    }

    private static void putSpeeds(ObjectNode node, DepthResult d) {
        putNumber(node, "pp_tps", d.ppTps().length == 0 ? Double.NaN : median(d.ppTps()));
        putNumber(node, "tg_tps", d.tgTps().length == 0 ? Double.NaN : median(d.tgTps()));
        ArrayNode pp = node.putArray("pp_tps_all");
        Arrays.stream(d.ppTps()).forEach(v -> pp.add(rounded(v)));
        ArrayNode tg = node.putArray("tg_tps_all");
        Arrays.stream(d.tgTps()).forEach(v -> tg.add(rounded(v)));
    }

    /** A finite number rounded to three decimals, or null (JSON has no NaN or infinity). */
    private static void putNumber(ObjectNode node, String name, double value) {
        if (Double.isFinite(value)) {
            node.put(name, rounded(value));
        } else {
            node.putNull(name);
        }
    }

    private static double rounded(double value) {
        return Math.round(value * 1000) / 1000.0;
    }
}
