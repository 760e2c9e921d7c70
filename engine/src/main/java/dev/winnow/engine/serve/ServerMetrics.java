package dev.winnow.engine.serve;

import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * The server's counters and gauges, written by the decode loop and the HTTP handlers, read as Prometheus text
 * (exposition format 0.0.4). Gauges are published by the loop after every step, so a scrape never touches the
 * loop's data structures.
 */
public final class ServerMetrics {
    private final Map<String, LongAdder> requests = new ConcurrentHashMap<>();
    private final LongAdder promptTokens = new LongAdder();
    private final LongAdder generatedTokens = new LongAdder();
    private final LongAdder decodeSteps = new LongAdder();
    private final LongAdder decodeRows = new LongAdder();
    private final LongAdder promptBlocks = new LongAdder();
    private final LongAdder preempted = new LongAdder();
    private final Map<FinishReason, LongAdder> finished = new EnumMap<>(FinishReason.class);
    private final Map<SequenceEvent.Failure, LongAdder> failed = new EnumMap<>(SequenceEvent.Failure.class);
    private final LongAdder slotsStored = new LongAdder();
    private final LongAdder slotsPruned = new LongAdder();

    private volatile int queueDepth;
    private volatile int activeSequences;
    private volatile int pagesInUse;
    private volatile long pagesMax;
    private volatile long bytesInUse;
    private volatile long pageBytes;
    private volatile double prunedFraction;
    private volatile List<SequenceStatus> sequences = List.of();

    ServerMetrics() {
        for (FinishReason reason : FinishReason.values()) {
            finished.put(reason, new LongAdder());
        }
        for (SequenceEvent.Failure failure : SequenceEvent.Failure.values()) {
            failed.put(failure, new LongAdder());
        }
    }

    /** Counts an HTTP request answered on {@code endpoint} (a fixed name, never a raw client path) with {@code status}. */
    public void countRequest(String endpoint, int status) {
        requests.computeIfAbsent(endpoint + '\n' + status, key -> new LongAdder()).increment();
    }

    public int queueDepth() {
        return queueDepth;
    }

    public int activeSequences() {
        return activeSequences;
    }

    public int pagesInUse() {
        return pagesInUse;
    }

    public long bytesInUse() {
        return bytesInUse;
    }

    void queueDepth(int depth) {
        queueDepth = depth;
    }

    /** The sequences in the batch, as of the decode loop's last step. */
    public List<SequenceStatus> sequences() {
        return sequences;
    }

    public long bytesMax() {
        return pagesMax * pageBytes;
    }

    /** {@code batch} becomes the published list: the decode loop builds it anew for each step and never touches it again. */
    void publish(int active, int pages, long maxPages, long bytes, long bytesPerPage, double pruned,
                 List<SequenceStatus> batch) {
        sequences = Collections.unmodifiableList(batch);
        activeSequences = active;
        pagesInUse = pages;
        pagesMax = maxPages;
        bytesInUse = bytes;
        pageBytes = bytesPerPage;
        prunedFraction = pruned;
    }

    void promptRead(int tokens) {
        promptTokens.add(tokens);
    }

    void promptBlock() {
        promptBlocks.increment();
    }

    void preempted() {
        preempted.increment();
    }

    void generated() {
        generatedTokens.increment();
    }

    void decodeStep(int rows) {
        decodeSteps.increment();
        decodeRows.add(rows);
    }

    void finished(FinishReason reason) {
        finished.get(reason).increment();
    }

    void failed(SequenceEvent.Failure failure) {
        failed.get(failure).increment();
    }

    /** A finished sequence's KV history: token slots stored over all layers, and how many of them were pruned. */
    void kvHistory(long stored, long pruned) {
        slotsStored.add(stored);
        slotsPruned.add(pruned);
    }

    /** All metrics in Prometheus' text format. */
    public String prometheusText() {
        StringBuilder out = new StringBuilder(4096);
        header(out, "winnow_requests_total", "counter", "HTTP requests answered, by endpoint and status code.");
        Map<String, Long> sorted = new TreeMap<>();
        requests.forEach((key, count) -> sorted.put(key, count.sum()));
        sorted.forEach((key, count) -> {
            int split = key.indexOf('\n');
            out.append("winnow_requests_total{endpoint=\"").append(escape(key.substring(0, split)))
                    .append("\",status=\"").append(key.substring(split + 1)).append("\"} ").append(count).append('\n');
        });
        counter(out, "winnow_prompt_tokens_total", "Prompt tokens read (each request counted once).", promptTokens.sum());
        counter(out, "winnow_generated_tokens_total", "Tokens generated.", generatedTokens.sum());
        counter(out, "winnow_decode_steps_total", "Batched decode steps run.", decodeSteps.sum());
        counter(out, "winnow_decode_rows_total",
                "Sequence rows over all decode steps (divided by the steps: the mean batch size).", decodeRows.sum());
        counter(out, "winnow_prompt_blocks_total", "Prompt blocks run through the model.", promptBlocks.sum());
        counter(out, "winnow_preemptions_total",
                "Sequences sent back to the queue, to be re-read and resumed, because the KV pool was full.", preempted.sum());
        header(out, "winnow_sequences_finished_total", "counter", "Sequences that ended, by reason.");
        finished.forEach((reason, count) -> labelled(out, "winnow_sequences_finished_total", "reason", reason.label(), count.sum()));
        failed.forEach((failure, count) -> labelled(out, "winnow_sequences_finished_total", "reason",
                failure.name().toLowerCase(java.util.Locale.ROOT), count.sum()));
        gauge(out, "winnow_queue_depth", "Requests waiting for a place in the batch.", queueDepth);
        gauge(out, "winnow_active_sequences", "Sequences in the batch (reading their prompt or decoding).", activeSequences);
        gauge(out, "winnow_kv_pages_in_use", "KV pages held by sequences.", pagesInUse);
        gauge(out, "winnow_kv_pages_max", "KV pages the budget allows.", pagesMax);
        gauge(out, "winnow_kv_bytes_in_use", "Bytes of the KV pages held by sequences.", bytesInUse);
        gauge(out, "winnow_kv_bytes_max", "Bytes of KV pages the budget allows.", pagesMax * pageBytes);
        gauge(out, "winnow_kv_pruned_fraction",
                "Of the token slots the active sequences stored (over all layers), the fraction pruned away.", prunedFraction);
        List<SequenceStatus> batch = sequences;
        header(out, "winnow_sequence_kv_bytes", "gauge", "Bytes of KV pages each sequence in the batch holds.");
        for (SequenceStatus sequence : batch) {
            out.append("winnow_sequence_kv_bytes{sequence=\"").append(sequence.id()).append("\"} ")
                    .append(sequence.kvBytes()).append('\n');
        }
        header(out, "winnow_sequence_pruned_fraction", "gauge",
                "Of the token slots each sequence in the batch stored (over all layers), the fraction pruned away.");
        for (SequenceStatus sequence : batch) {
            out.append("winnow_sequence_pruned_fraction{sequence=\"").append(sequence.id()).append("\"} ")
                    .append(sequence.prunedFraction()).append('\n');
        }
        counter(out, "winnow_kv_slots_stored_total", "Token slots (tokens x layers) stored by finished sequences.",
                slotsStored.sum());
        counter(out, "winnow_kv_slots_pruned_total", "Of those, the slots pruning freed before the sequence ended.",
                slotsPruned.sum());
        return out.toString();
    }

    private static void header(StringBuilder out, String name, String type, String help) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static void counter(StringBuilder out, String name, String help, long value) {
        header(out, name, "counter", help);
        out.append(name).append(' ').append(value).append('\n');
    }

    private static void gauge(StringBuilder out, String name, String help, double value) {
        header(out, name, "gauge", help);
        out.append(name).append(' ');
        if (value == Math.rint(value) && Math.abs(value) < 1e15) {
            out.append((long) value);
        } else {
            out.append(value);
        }
        out.append('\n');
    }

    private static void labelled(StringBuilder out, String name, String label, String value, long count) {
        out.append(name).append('{').append(label).append("=\"").append(escape(value)).append("\"} ").append(count).append('\n');
    }

    private static String escape(String value) {
        return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
