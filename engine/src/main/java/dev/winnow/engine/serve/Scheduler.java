package dev.winnow.engine.serve;

import dev.winnow.engine.kv.KvBudget;
import dev.winnow.engine.kv.KvCache;
import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.kv.KvCacheFullException;
import dev.winnow.engine.kv.KvGeometry;
import dev.winnow.engine.kv.PagePool;
import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.engine.model.LlamaModel;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.model.Pruner;
import dev.winnow.engine.tokenizer.Tokenizer;
import dev.winnow.tensors.WorkerPool;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * Continuous batching: one decode loop serves every request. Requests wait in a bounded queue; between steps
 * the loop admits them (up to {@code parallel} sequences, while the KV pool has room), reads their prompts in
 * blocks with {@link LlamaModel#forward}, and runs one {@link LlamaModel#forwardBatch} step for all decoding
 * sequences at once, so each weight matrix is read once per step however many sequences there are. Sequences
 * leave the batch when they finish, fail or are cancelled, and their pages go back to the pool at once. Every
 * sequence has its own {@link PagedKvCache} and pruner over one shared {@link PagePool}: a token pruned in one
 * conversation frees room for another.
 *
 * <p>KV memory: a request whose prompt (plus one token) needs more pages than the whole budget is refused. Others
 * are admitted, first come first served, when the pool's free pages hold their prompt plus one page per layer for
 * each sequence already in the batch. Before each decode step the loop checks that every decoding sequence can
 * store its next token; while the pool cannot serve them all, the most recently admitted sequence is
 * <em>preempted</em>: its pages go back to the pool and it returns to the head of the queue, to re-read its prompt
 * and the tokens it generated when there is room again and go on where it stopped (the client only sees a pause).
 * A prompt that cannot be stored after all is put back the same way. Only a sequence that cannot go on even with
 * the pool to itself ends, with {@link FinishReason#KV_BUDGET_FULL} ("length").
 */
public final class Scheduler implements AutoCloseable {
    private final Model model;
    private final LlamaModel llama;
    private final Tokenizer tokenizer;
    private final SchedulerConfig config;
    private final KvGeometry geometry;
    private final PagePool pages;
    private final WorkerPool workers;
    private final LlamaModel.State state;
    private final ServerMetrics metrics = new ServerMetrics();
    private final Consumer<String> log;
    private final float[] logitsRow;
    private final Thread loop;

    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled when there is something for the loop to do. */
    private final Condition work = lock.newCondition();
    /** Signalled when the loop has nothing left: no sequence waiting or active. */
    private final Condition drained = lock.newCondition();
    /** Guarded by {@link #lock}. */
    private final ArrayDeque<Sequence> waiting = new ArrayDeque<>();
    private boolean accepting = true;
    private boolean stopping;
    private boolean loopIdle;
    /** Set when the grace period of a shutdown is over: the loop fails every active sequence. */
    private volatile boolean abandonActive;
    private final AtomicLong nextId = new AtomicLong();
    /** Guarded by the scheduler's monitor: {@link #shutdown} has run. */
    private boolean terminated;

    /** The loop's own: the sequences in the batch, oldest first. */
    private final List<Sequence> active = new ArrayList<>();
    private final int[] batchTokens;
    private final int[] batchPositions;
    private final KvCache[] batchCaches;
    private final Pruner[] batchPruners;
    private final Sequence[] batchRows;

    /**
     * Builds the page pool and the worker threads and starts the decode loop.
     *
     * @param log where the loop reports engine faults (with their stack traces), one message per call
     * @throws IllegalArgumentException when the configuration cannot work for this model (a KV budget below one
     *                                  page per layer, a pruning policy that needs a module the model lacks)
     */
    public Scheduler(Model model, SchedulerConfig config, Consumer<String> log) {
        this.model = model;
        this.llama = model.llama();
        this.tokenizer = model.tokenizer();
        this.config = config;
        this.log = log;
        this.geometry = model.config().kvGeometry(config.contextLength());
        KvCacheConfig kv = config.kv();
        KvBudget budget = kv.budget() != null ? kv.budget()
                : new KvBudget.Tokens((long) config.parallel() * roundUp(config.contextLength(), kv.pageSize()));
        this.pages = new KvCacheConfig(kv.pageSize(), kv.storage(), budget)
                .newPool(geometry, config.pruning().interactionDim(model));
        this.workers = new WorkerPool(config.threads());
        this.state = llama.newState(Math.max(LlamaModel.DEFAULT_BLOCK, config.parallel()));
        this.logitsRow = new float[model.config().vocabularySize()];
        int rows = config.parallel();
        this.batchTokens = new int[rows];
        this.batchPositions = new int[rows];
        this.batchCaches = new KvCache[rows];
        this.batchPruners = new Pruner[rows];
        this.batchRows = new Sequence[rows];
        publishGauges();
        this.loop = Thread.ofPlatform().name("winnow-decode-loop").unstarted(this::runLoop);
        loop.start();
    }

    public ServerMetrics metrics() {
        return metrics;
    }

    /** The pages a sequence of {@code tokens} tokens holds without pruning: one page per layer per page of tokens. */
    private long pagesFor(int tokens) {
        return (long) geometry.layers() * ((tokens + pages.pageSize() - 1) / pages.pageSize());
    }

    /**
     * Queues a request.
     *
     * @throws RejectedRequestException when the queue is full, the server is shutting down, or the request can
     *                                  never fit (context or KV budget)
     * @throws IllegalArgumentException when a prompt or stop token is outside the vocabulary
     */
    public SequenceHandle submit(GenerationRequest request) {
        int vocabulary = model.config().vocabularySize();
        for (int token : request.prompt()) {
            requireToken(token, vocabulary, "prompt");
        }
        for (int token : request.stopTokens()) {
            requireToken(token, vocabulary, "stop");
        }
        for (int token : request.params().logitBias().keySet()) {
            requireToken(token, vocabulary, "logit bias");
        }
        int promptTokens = request.prompt().length;
        long total = (long) promptTokens + request.params().maxTokens();
        if (total > config.contextLength()) {
            throw new RejectedRequestException(RejectedRequestException.Reason.EXCEEDS_CONTEXT,
                    "the context holds %d tokens, but the prompt (%d tokens) and the token limit (%d) need %d"
                            .formatted(config.contextLength(), promptTokens, request.params().maxTokens(), total));
        }
        long need = pagesFor(promptTokens + 1);
        if (need > pages.maxPages()) {
            throw new RejectedRequestException(RejectedRequestException.Reason.EXCEEDS_KV_BUDGET,
                    "the prompt (%d tokens) needs %d KV pages of %d tokens, but the server's whole KV budget is %d pages (%,d bytes); shorten the prompt or start the server with a larger --kv-budget"
                            .formatted(promptTokens, need, pages.pageSize(), pages.maxPages(),
                                    pages.maxPages() * pages.pageBytes()));
        }
        Sequence sequence = new Sequence(nextId.getAndIncrement(), request, tokenizer, this::wake);
        lock.lock();
        try {
            if (!accepting) {
                throw new RejectedRequestException(RejectedRequestException.Reason.SHUTTING_DOWN,
                        "the server is shutting down");
            }
            if (waiting.size() >= config.queueCapacity()) {
                throw new RejectedRequestException(RejectedRequestException.Reason.QUEUE_FULL,
                        "all %d places in the queue are taken (%d sequences are generating); try again shortly"
                                .formatted(config.queueCapacity(), config.parallel()));
            }
            waiting.addLast(sequence);
            metrics.queueDepth(waiting.size());
            work.signal();
            return sequence;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stops taking requests, fails the queued ones ({@link SequenceEvent.Failure#SHUTTING_DOWN}), lets the active
     * ones finish for up to {@code grace}, fails the rest, then stops the loop and frees the pool and the workers.
     * Later calls return at once (a concurrent one once the first is done).
     */
    public synchronized void shutdown(Duration grace) {
        if (terminated) {
            return;
        }
        terminated = true;
        long deadline = System.nanoTime() + grace.toNanos();
        lock.lock();
        try {
            accepting = false;
            for (Sequence sequence : waiting) {
                fail(sequence, SequenceEvent.Failure.SHUTTING_DOWN, "the server is shutting down");
            }
            waiting.clear();
            metrics.queueDepth(0);
            work.signal();
            while (loop.isAlive() && !loopIdle && System.nanoTime() < deadline) {
                drained.awaitNanos(deadline - System.nanoTime());
            }
            abandonActive = true;
            stopping = true;
            work.signal();
        } catch (InterruptedException e) {
            abandonActive = true;
            stopping = true;
            work.signal();
            Thread.currentThread().interrupt();
        } finally {
            lock.unlock();
        }
        boolean interrupted = false;
        while (loop.isAlive()) {
            try {
                loop.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        workers.close();
        pages.close();
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Shuts down at once: active sequences fail with {@link SequenceEvent.Failure#SHUTTING_DOWN}. */
    @Override
    public void close() {
        shutdown(Duration.ZERO);
    }

    private void wake() {
        lock.lock();
        try {
            work.signal();
        } finally {
            lock.unlock();
        }
    }

    private void runLoop() {
        try {
            while (awaitWork()) {
                try {
                    step();
                } catch (RuntimeException | Error e) {
                    // A fault outside one sequence's work: fail them all rather than loop on a broken state.
                    report("decode loop fault", e);
                    for (Sequence sequence : List.copyOf(active)) {
                        fail(sequence, SequenceEvent.Failure.INTERNAL, "internal error: " + e);
                    }
                    active.clear();
                }
                publishGauges();
            }
        } finally {
            for (Sequence sequence : List.copyOf(active)) {
                fail(sequence, SequenceEvent.Failure.SHUTTING_DOWN, "the server is shutting down");
            }
            active.clear();
            publishGauges();
            lock.lock();
            try {
                loopIdle = true;
                drained.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /** Waits until there is work, admits what fits; false when the loop should end. */
    private boolean awaitWork() {
        lock.lock();
        try {
            while (true) {
                waiting.removeIf(sequence -> {
                    if (sequence.cancelled) {
                        fail(sequence, SequenceEvent.Failure.CANCELLED, "cancelled");
                    }
                    return sequence.cancelled;
                });
                metrics.queueDepth(waiting.size());
                if (!active.isEmpty() || !waiting.isEmpty()) {
                    loopIdle = false;
                    admit();
                    return true;
                }
                if (stopping) {
                    return false;
                }
                loopIdle = true;
                publishGauges();
                drained.signalAll();
                work.awaitUninterruptibly();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Moves queued sequences into the batch, oldest first, while there is a place and the pool has room. */
    private void admit() {
        while (!waiting.isEmpty() && active.size() < config.parallel() && !abandonActive) {
            Sequence next = waiting.peekFirst();
            long reserved = 0;
            for (Sequence sequence : active) {
                reserved += sequence.phase == Sequence.Phase.PROMPT
                        ? Math.max(geometry.layers(), pagesFor(sequence.input.length + 1) - sequence.pagesHeld())
                        : geometry.layers();
            }
            long free = pages.maxPages() - pages.pagesInUse();
            if (free < pagesFor(next.input.length + 1) + reserved) {
                return; // first come, first served: the head waits for room, and so does everyone behind it
            }
            waiting.removeFirst();
            next.cache = new PagedKvCache(pages, geometry);
            next.pruner = config.pruning().create(model, next.cache, null);
            next.phase = Sequence.Phase.PROMPT;
            active.add(next);
        }
        metrics.queueDepth(waiting.size());
    }

    private void step() {
        for (Sequence sequence : active) {
            if (abandonActive) {
                fail(sequence, SequenceEvent.Failure.SHUTTING_DOWN, "the server is shutting down");
            } else if (sequence.cancelled) {
                fail(sequence, SequenceEvent.Failure.CANCELLED, "cancelled");
            }
        }
        active.removeIf(sequence -> sequence.phase == Sequence.Phase.DONE);
        for (Sequence sequence : List.copyOf(active)) {
            if (sequence.phase == Sequence.Phase.PROMPT) {
                readPromptBlock(sequence);
            }
        }
        active.removeIf(sequence -> sequence.phase == Sequence.Phase.DONE || sequence.phase == Sequence.Phase.WAITING);
        decodeStep();
        active.removeIf(sequence -> sequence.phase == Sequence.Phase.DONE);
    }

    /**
     * Reads the next block of a sequence's input; after the last one, samples the first token (or, for a resumed
     * sequence, goes back to decoding the token it had sampled).
     */
    private void readPromptBlock(Sequence sequence) {
        int count = Math.min(LlamaModel.DEFAULT_BLOCK, sequence.input.length - sequence.position);
        boolean last = sequence.position + count == sequence.input.length;
        float[] logits;
        try {
            logits = llama.forward(sequence.input, sequence.position, count, sequence.position, state, sequence.cache,
                    sequence.pruner, workers, last && !sequence.resuming);
        } catch (KvCacheFullException e) {
            releasePages(sequence);
            if (pages.pagesInUse() > 0) {
                preempt(sequence);
            } else if (sequence.resuming) {
                finish(sequence, FinishReason.KV_BUDGET_FULL);
            } else {
                fail(sequence, SequenceEvent.Failure.EXCEEDS_KV_BUDGET,
                        "the prompt does not fit in the KV budget even with the pool to itself: " + e.getMessage());
            }
            return;
        } catch (RuntimeException e) {
            report("reading the prompt of sequence " + sequence.id, e);
            fail(sequence, SequenceEvent.Failure.INTERNAL, "internal error: " + e);
            return;
        }
        metrics.promptBlock();
        sequence.position += count;
        if (last) {
            sequence.phase = Sequence.Phase.DECODING;
            if (!sequence.resuming) {
                metrics.promptRead(sequence.prompt.length);
                sampleNext(sequence, logits, 0);
            }
        }
    }

    /** Back to the head of the queue, holding nothing, to resume when there is room. */
    private void preempt(Sequence sequence) {
        releasePages(sequence);
        sequence.preempted();
        metrics.preempted();
        lock.lock();
        try {
            waiting.addFirst(sequence);
            metrics.queueDepth(waiting.size());
        } finally {
            lock.unlock();
        }
    }

    /** One token for every decoding sequence, all rows through the weights at once. */
    private void decodeStep() {
        makeRoomForNextTokens();
        int rows = 0;
        for (Sequence sequence : active) {
            if (sequence.phase == Sequence.Phase.DECODING) {
                batchRows[rows] = sequence;
                batchTokens[rows] = sequence.nextToken;
                batchPositions[rows] = sequence.position;
                batchCaches[rows] = sequence.cache;
                batchPruners[rows] = sequence.pruner;
                rows++;
            }
        }
        if (rows == 0) {
            return;
        }
        try {
            float[] logits = llama.forwardBatch(batchTokens, batchPositions, batchCaches, batchPruners, rows, state, workers);
            metrics.decodeStep(rows);
            int vocabulary = model.config().vocabularySize();
            for (int i = 0; i < rows; i++) {
                batchRows[i].position++;
                sampleNext(batchRows[i], logits, i * vocabulary);
            }
        } catch (RuntimeException e) {
            // The rows' caches may hold this step's token in some layers only: none of them can go on.
            report("decode step over " + rows + " sequences", e);
            for (int i = 0; i < rows; i++) {
                if (batchRows[i].phase != Sequence.Phase.DONE) {
                    fail(batchRows[i], SequenceEvent.Failure.INTERNAL, "internal error: " + e);
                }
            }
        } finally {
            Arrays.fill(batchRows, 0, rows, null);
            Arrays.fill(batchCaches, 0, rows, null);
            Arrays.fill(batchPruners, 0, rows, null);
        }
    }

    /**
     * Preempts the newest sequences while the pool has fewer free pages than the decoding sequences need for their
     * next tokens; the rest can then store them whatever pruning does. A sequence that cannot go on even alone, or
     * could never be resumed, ends instead.
     */
    private void makeRoomForNextTokens() {
        while (!active.isEmpty()) {
            long needed = 0;
            for (Sequence sequence : active) {
                if (sequence.phase == Sequence.Phase.DECODING) {
                    needed += pagesForNextToken(sequence);
                }
            }
            if (needed <= pages.maxPages() - pages.pagesInUse()) {
                return;
            }
            Sequence newest = active.removeLast();
            if (active.isEmpty() || pagesFor(newest.position + 1) > pages.maxPages()) {
                finish(newest, FinishReason.KV_BUDGET_FULL);
            } else {
                preempt(newest);
            }
        }
    }

    /** Layers of the sequence whose pages are all full: each needs a new page for one more token. */
    private int pagesForNextToken(Sequence sequence) {
        int need = 0;
        for (int layer = 0; layer < geometry.layers(); layer++) {
            if (sequence.cache.tokens(layer) == sequence.cache.pageCount(layer) * pages.pageSize()) {
                need++;
            }
        }
        return need;
    }

    /** Picks the sequence's next token from {@code logits[offset ..]} and either streams it or ends the sequence. */
    private void sampleNext(Sequence sequence, float[] logits, int offset) {
        System.arraycopy(logits, offset, logitsRow, 0, logitsRow.length);
        int token;
        try {
            sequence.penalties.apply(logitsRow);
            token = sequence.sampler.sample(logitsRow);
        } catch (RuntimeException e) {
            report("sampling sequence " + sequence.id, e);
            fail(sequence, SequenceEvent.Failure.INTERNAL, "internal error while sampling: " + e.getMessage());
            return;
        }
        if (!sequence.params.ignoreEos() && (tokenizer.isEndOfGeneration(token) || sequence.isStopToken(token))) {
            finish(sequence, FinishReason.END_OF_GENERATION);
            return;
        }
        sequence.sampler.accept(token);
        sequence.penalties.accept(token);
        sequence.generated.add(token);
        metrics.generated();
        String text = sequence.stops.accept(sequence.decoder.next(token));
        if (!text.isEmpty()) {
            sequence.send(new SequenceEvent.Text(text));
        }
        if (sequence.stops.stopped()) {
            finish(sequence, FinishReason.STOP_SEQUENCE);
        } else if (sequence.generated.size() >= sequence.params.maxTokens()) {
            finish(sequence, FinishReason.TOKEN_LIMIT);
        } else if (sequence.position >= geometry.capacity()) {
            finish(sequence, FinishReason.CONTEXT_FULL);
        } else {
            sequence.nextToken = token;
        }
    }

    /** Ends a sequence normally: the last text (unless a stop string cut it), the end event, its pages back. */
    private void finish(Sequence sequence, FinishReason reason) {
        FinishReason finalReason = reason;
        if (!sequence.stops.stopped()) {
            String rest = sequence.stops.accept(sequence.decoder.flush());
            if (sequence.stops.stopped()) {
                finalReason = FinishReason.STOP_SEQUENCE;
            } else {
                rest += sequence.stops.flush();
            }
            if (!rest.isEmpty()) {
                sequence.send(new SequenceEvent.Text(rest));
            }
        }
        releasePages(sequence);
        sequence.phase = Sequence.Phase.DONE;
        metrics.finished(finalReason);
        sequence.send(new SequenceEvent.Finished(finalReason, sequence.prompt.length, sequence.generated.size()));
    }

    private void fail(Sequence sequence, SequenceEvent.Failure failure, String message) {
        releasePages(sequence);
        sequence.phase = Sequence.Phase.DONE;
        metrics.failed(failure);
        sequence.send(new SequenceEvent.Failed(failure, message));
    }

    /** Returns the sequence's pages to the pool, recording how much of what it stored was pruned. */
    private void releasePages(Sequence sequence) {
        PagedKvCache cache = sequence.cache;
        if (cache == null) {
            return;
        }
        long stored = 0;
        long pruned = 0;
        for (int layer = 0; layer < geometry.layers(); layer++) {
            stored += sequence.position;
            pruned += sequence.position - cache.tokens(layer);
        }
        metrics.kvHistory(stored, pruned);
        cache.clear();
        sequence.cache = null;
        sequence.pruner = null;
    }

    private void publishGauges() {
        long stored = 0;
        long live = 0;
        for (Sequence sequence : active) {
            if (sequence.cache != null) {
                for (int layer = 0; layer < geometry.layers(); layer++) {
                    stored += sequence.position;
                    live += sequence.cache.tokens(layer);
                }
            }
        }
        metrics.publish(active.size(), pages.pagesInUse(), pages.maxPages(), pages.bytesInUse(), pages.pageBytes(),
                stored == 0 ? 0 : 1 - (double) live / stored);
    }

    private void report(String what, Throwable e) {
        StringWriter trace = new StringWriter();
        e.printStackTrace(new PrintWriter(trace));
        log.accept("winnow serve: " + what + " failed: " + trace);
    }

    private static void requireToken(int token, int vocabulary, String what) {
        if (token < 0 || token >= vocabulary) {
            throw new IllegalArgumentException("%s token id %d is outside the vocabulary (0..%d)"
                    .formatted(what, token, vocabulary - 1));
        }
    }

    private static long roundUp(int tokens, int pageSize) {
        return (long) (tokens + pageSize - 1) / pageSize * pageSize;
    }
}
