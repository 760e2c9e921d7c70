package dev.winnow.engine.serve;

import dev.winnow.engine.kv.KvCacheFullException;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.Sequence;

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
 * Continuous batching: one decode loop serves every request, each request one {@link Sequence} of one
 * {@link Engine}. Requests wait in a bounded queue; between steps the loop admits them (up to {@code parallel}
 * sequences, while the KV pool has room) and runs one {@link Engine#step} per step for all of them at once: a
 * token of each decoding sequence beside the next prompt block of each new one, so each weight matrix is read once
 * per step however many sequences there are, and a new prompt does not hold the others back for a pass of its
 * own. Sequences leave the batch when they finish, fail or are cancelled, and their pages go back to the pool at
 * once. Every sequence has its own cache and pruner over the engine's one page pool: a token pruned in one
 * conversation frees room for another.
 *
 * <p>KV memory: a request whose prompt (plus one token) needs more pages than the whole budget is refused. Others
 * are admitted, first come first served, when the pool's free pages hold their prompt plus one page per layer for
 * each sequence already in the batch. Before each decode step the loop checks that every decoding sequence can
 * store its next token; while the pool cannot serve them all, the most recently admitted sequence is
 * <em>preempted</em>: its pages go back to the pool and it returns to the head of the queue, to re-read its prompt
 * and the tokens it generated when there is room again, in the same blocks and steps as the first time (so every
 * pruning policy keeps the same tokens), and go on where it stopped (the client only sees a pause).
 * A prompt that cannot be stored after all is put back the same way. Only a sequence that cannot go on even with
 * the pool to itself ends, with {@link FinishReason#KV_BUDGET_FULL} ("length").
 */
public final class Scheduler implements AutoCloseable {
    private final Model model;
    private final SchedulerConfig config;
    private final Engine engine;
    private final int layers;
    private final ServerMetrics metrics = new ServerMetrics();
    private final Consumer<String> log;
    private final Thread loop;

    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled when there is something for the loop to do. */
    private final Condition work = lock.newCondition();
    /** Signalled when the loop has nothing left: no sequence waiting or active. */
    private final Condition drained = lock.newCondition();
    /** Guarded by {@link #lock}. */
    private final ArrayDeque<Request> waiting = new ArrayDeque<>();
    private boolean accepting = true;
    private boolean stopping;
    private boolean loopIdle;
    /** Set when the grace period of a shutdown is over: the loop fails every active sequence. */
    private volatile boolean abandonActive;
    private final AtomicLong nextId = new AtomicLong();
    /** Guarded by the scheduler's monitor: {@link #shutdown} has run. */
    private boolean terminated;

    /** The loop's own: the requests in the batch, oldest first. */
    private final List<Request> active = new ArrayList<>();
    private final Request[] batchRequests;
    private final Sequence[] batchRows;
    /** The requests whose next token the loop samples, and what sampling gave each. */
    private final Request[] sampling;
    private final Sequence[] samplingRows;
    private final String[] sampledPieces;
    private final RuntimeException[] samplingFailures;

    /**
     * Builds the engine (page pool and worker threads) and starts the decode loop.
     *
     * @param log where the loop reports engine faults (with their stack traces), one message per call
     * @throws IllegalArgumentException when the configuration cannot work for this model (a KV budget below one
     *                                  page per layer, a pruning policy that needs a module the model lacks)
     */
    public Scheduler(Model model, SchedulerConfig config, Consumer<String> log) {
        this.model = model;
        this.config = config;
        this.log = log;
        this.engine = new Engine(model, config.engine());
        this.layers = model.config().layers();
        this.batchRequests = new Request[config.parallel()];
        this.batchRows = new Sequence[config.parallel()];
        this.sampling = new Request[config.parallel()];
        this.samplingRows = new Sequence[config.parallel()];
        this.sampledPieces = new String[config.parallel()];
        this.samplingFailures = new RuntimeException[config.parallel()];
        publishGauges();
        this.loop = Thread.ofPlatform().name("winnow-decode-loop").unstarted(this::runLoop);
        loop.start();
    }

    public ServerMetrics metrics() {
        return metrics;
    }

    /**
     * The most pages a sequence of {@code tokens} tokens holds: one page per layer per page of the tokens a layer
     * may hold at once under the pruning policy (all of them, unless the policy bounds them).
     */
    private long pagesFor(int tokens) {
        int pageSize = engine.pages().pageSize();
        long held = config.engine().pruning().peakTokensPerLayer(tokens);
        return layers * ((held + pageSize - 1) / pageSize);
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
        long maxPages = engine.pages().maxPages();
        if (need > maxPages) {
            throw new RejectedRequestException(RejectedRequestException.Reason.EXCEEDS_KV_BUDGET,
                    "the prompt (%d tokens) needs %d KV pages of %d tokens, but the server's whole KV budget is %d pages (%,d bytes); shorten the prompt or start the server with a larger --kv-budget"
                            .formatted(promptTokens, need, engine.pages().pageSize(), maxPages,
                                    maxPages * engine.pages().pageBytes()));
        }
        Request sequence = new Request(nextId.getAndIncrement(), request, engine, this::wake);
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
            for (Request sequence : waiting) {
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
        engine.close();
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
                    for (Request sequence : List.copyOf(active)) {
                        fail(sequence, SequenceEvent.Failure.INTERNAL, "internal error: " + e);
                    }
                    active.clear();
                }
                publishGauges();
            }
        } finally {
            for (Request sequence : List.copyOf(active)) {
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
            Request next = waiting.peekFirst();
            long reserved = 0;
            for (Request request : active) {
                reserved += request.phase == Request.Phase.PROMPT
                        ? Math.max(layers, pagesFor(tokensToDecode(request)) - request.sequence.pagesHeld())
                        : layers;
            }
            long free = engine.pages().maxPages() - engine.pages().pagesInUse();
            if (free < pagesFor(tokensToDecode(next)) + reserved) {
                return; // first come, first served: the head waits for room, and so does everyone behind it
            }
            waiting.removeFirst();
            next.phase = Request.Phase.PROMPT;
            active.add(next);
        }
        metrics.queueDepth(waiting.size());
    }

    /** Tokens a request's sequence holds once it has read what it has and stored one more. */
    private static int tokensToDecode(Request request) {
        // Once a token was generated, the last one is only sampled: storing it is the "one more".
        return request.sequence.length() + (request.generated() == 0 ? 1 : 0);
    }

    private void step() {
        for (Request request : active) {
            if (abandonActive) {
                fail(request, SequenceEvent.Failure.SHUTTING_DOWN, "the server is shutting down");
            } else if (request.cancelled) {
                fail(request, SequenceEvent.Failure.CANCELLED, "cancelled");
            }
        }
        active.removeIf(request -> request.phase == Request.Phase.DONE);
        // A prompt block that might not fit beside the decode rows' next tokens is read alone first, where a
        // full pool puts back only that sequence; the others join the decode step's pass.
        long free = freePagesBesideDecodeRows();
        for (Request request : List.copyOf(active)) {
            if (request.phase == Request.Phase.PROMPT) {
                long pages = request.sequence.pagesForNextTokens(request.sequence.nextRead());
                if (pages <= free) {
                    free -= pages;
                } else {
                    readPromptBlockAlone(request);
                }
            }
        }
        active.removeIf(request -> request.phase == Request.Phase.DONE || request.phase == Request.Phase.WAITING);
        makeRoomForNextTokens();
        runPass(freePagesBesideDecodeRows());
        active.removeIf(request -> request.phase == Request.Phase.DONE);
    }

    /** Free pages of the pool past those the decoding sequences may take for their next tokens. */
    private long freePagesBesideDecodeRows() {
        long free = engine.pages().maxPages() - engine.pages().pagesInUse();
        for (Request request : active) {
            if (request.phase == Request.Phase.DECODING) {
                free -= request.sequence.pagesForNextTokens(1);
            }
        }
        return free;
    }

    /** Reads the next block of a sequence's prompt in a pass of its own. */
    private void readPromptBlockAlone(Request request) {
        boolean read;
        try {
            read = request.sequence.readBlock();
        } catch (KvCacheFullException e) {
            releasePages(request);
            if (engine.pages().pagesInUse() > 0) {
                preempt(request);
            } else if (request.generated() > 0) {
                finish(request, FinishReason.KV_BUDGET_FULL);
            } else {
                fail(request, SequenceEvent.Failure.EXCEEDS_KV_BUDGET,
                        "the prompt does not fit in the KV budget even with the pool to itself: " + e.getMessage());
            }
            return;
        } catch (RuntimeException e) {
            report("reading the prompt of sequence " + request.id, e);
            fail(request, SequenceEvent.Failure.INTERNAL, "internal error: " + e);
            return;
        }
        promptBlockRead(request);
        if (read && request.generated() == 0) {
            sampling[0] = request;
            sampleNext(1);
        }
    }

    /**
     * After a block of a prompt: once it is all read, the sequence decodes (a new one samples its first token
     * next; a resumed one goes back to reading the tokens it had generated, one per step, as it first did).
     */
    private void promptBlockRead(Request request) {
        metrics.promptBlock();
        if (!request.sequence.readingPrompt()) {
            request.phase = Request.Phase.DECODING;
            if (request.generated() == 0) {
                metrics.promptRead(request.promptTokens());
            }
        }
    }

    /** Back to the head of the queue, holding nothing, to resume when there is room. */
    private void preempt(Request request) {
        releasePages(request);
        request.phase = Request.Phase.WAITING;
        metrics.preempted();
        lock.lock();
        try {
            waiting.addFirst(request);
            metrics.queueDepth(waiting.size());
        } finally {
            lock.unlock();
        }
    }

    /**
     * One pass for the batch: a token for every decoding sequence (the token it sampled, or for a resumed sequence
     * the next one it had generated) and the next prompt block of each sequence reading one whose pages fit in
     * {@code free} and whose rows fit in the pass, all through the weights at once.
     */
    private void runPass(long free) {
        int rows = 0;
        int tokens = 0;
        int decoding = 0;
        for (Request request : active) {
            if (request.phase == Request.Phase.DECODING) {
                batchRequests[rows] = request;
                batchRows[rows++] = request.sequence;
                tokens++;
                decoding++;
            }
        }
        for (Request request : active) {
            if (request.phase == Request.Phase.PROMPT) {
                int read = request.sequence.nextRead();
                long pages = request.sequence.pagesForNextTokens(read);
                if (tokens + read <= engine.rowsPerStep() && pages <= free) {
                    batchRequests[rows] = request;
                    batchRows[rows++] = request.sequence;
                    tokens += read;
                    free -= pages;
                }
            }
        }
        if (rows == 0) {
            return;
        }
        try {
            engine.step(batchRows, rows);
            if (decoding > 0) {
                metrics.decodeStep(decoding);
            }
            int caughtUp = 0;
            for (int i = 0; i < rows; i++) {
                Request request = batchRequests[i];
                if (request.phase == Request.Phase.PROMPT) {
                    promptBlockRead(request);
                }
                if (request.phase == Request.Phase.DECODING && request.sequence.caughtUp()) {
                    sampling[caughtUp++] = request;
                }
            }
            sampleNext(caughtUp);
        } catch (RuntimeException e) {
            // The rows' caches may hold this step's tokens in some layers only: none of them can go on.
            report("decode step over " + rows + " sequences", e);
            for (int i = 0; i < rows; i++) {
                if (batchRequests[i].phase != Request.Phase.DONE) {
                    fail(batchRequests[i], SequenceEvent.Failure.INTERNAL, "internal error: " + e);
                }
            }
        } finally {
            Arrays.fill(batchRequests, 0, rows, null);
            Arrays.fill(batchRows, 0, rows, null);
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
            for (Request request : active) {
                if (request.phase == Request.Phase.DECODING) {
                    needed += request.sequence.pagesForNextTokens(1);
                }
            }
            if (needed <= engine.pages().maxPages() - engine.pages().pagesInUse()) {
                return;
            }
            Request newest = active.removeLast();
            if (active.isEmpty() || pagesFor(newest.sequence.position() + 1) > engine.pages().maxPages()) {
                finish(newest, FinishReason.KV_BUDGET_FULL);
            } else {
                preempt(newest);
            }
        }
    }

    /**
     * Picks the next token of {@code sampling[0, count)}, all at once on the worker threads, then streams each
     * one's text or ends the request, in the batch's order.
     */
    private void sampleNext(int count) {
        if (count == 0) {
            return;
        }
        for (int i = 0; i < count; i++) {
            samplingRows[i] = sampling[i].sequence;
        }
        try {
            engine.sampleNext(samplingRows, count, sampledPieces, samplingFailures);
            for (int i = 0; i < count; i++) {
                Request request = sampling[i];
                if (samplingFailures[i] != null) {
                    report("sampling sequence " + request.id, samplingFailures[i]);
                    fail(request, SequenceEvent.Failure.INTERNAL,
                            "internal error while sampling: " + samplingFailures[i].getMessage());
                } else {
                    sampled(request, sampledPieces[i]);
                }
            }
        } finally {
            Arrays.fill(sampling, 0, count, null);
            Arrays.fill(samplingRows, 0, count, null);
            Arrays.fill(sampledPieces, 0, count, null);
            Arrays.fill(samplingFailures, 0, count, null);
        }
    }

    /** Streams the text of the token a request sampled, or ends the request (a stop token is {@code null}). */
    private void sampled(Request request, String piece) {
        if (piece == null) {
            finish(request, FinishReason.END_OF_GENERATION);
            return;
        }
        metrics.generated();
        String text = request.stops.accept(piece);
        if (!text.isEmpty()) {
            request.send(new SequenceEvent.Text(text));
        }
        if (request.stops.stopped()) {
            finish(request, FinishReason.STOP_SEQUENCE);
        } else if (request.generated() >= request.params.maxTokens()) {
            finish(request, FinishReason.TOKEN_LIMIT);
        } else if (request.sequence.full()) {
            finish(request, FinishReason.CONTEXT_FULL);
        }
    }

    /** Ends a request normally: the last text (unless a stop string cut it), the end event, its pages back. */
    private void finish(Request request, FinishReason reason) {
        FinishReason finalReason = reason;
        if (!request.stops.stopped()) {
            String rest = request.stops.accept(request.sequence.flush());
            if (request.stops.stopped()) {
                finalReason = FinishReason.STOP_SEQUENCE;
            } else {
                rest += request.stops.flush();
            }
            if (!rest.isEmpty()) {
                request.send(new SequenceEvent.Text(rest));
            }
        }
        releasePages(request);
        request.phase = Request.Phase.DONE;
        metrics.finished(finalReason);
        request.send(new SequenceEvent.Finished(finalReason, request.promptTokens(), request.generated()));
    }

    private void fail(Request request, SequenceEvent.Failure failure, String message) {
        releasePages(request);
        request.phase = Request.Phase.DONE;
        metrics.failed(failure);
        request.send(new SequenceEvent.Failed(failure, message, request.generated()));
    }

    /** Returns the request's pages to the pool, recording how much of what it stored was pruned. */
    private void releasePages(Request request) {
        Sequence sequence = request.sequence;
        if (sequence.position() > 0) {
            long stored = 0;
            long pruned = 0;
            for (int layer = 0; layer < layers; layer++) {
                stored += sequence.position();
                pruned += sequence.position() - sequence.cache().tokens(layer);
            }
            metrics.kvHistory(stored, pruned);
        }
        sequence.suspend();
    }

    private void publishGauges() {
        List<SequenceStatus> sequences = new ArrayList<>(active.size());
        long stored = 0;
        long live = 0;
        for (Request request : active) {
            Sequence sequence = request.sequence;
            int[] kept = new int[layers];
            for (int layer = 0; layer < layers; layer++) {
                kept[layer] = sequence.cache().tokens(layer);
                stored += sequence.position();
                live += kept[layer];
            }
            sequences.add(new SequenceStatus(request.id, request.promptTokens(), Math.max(0, request.generated()),
                    sequence.position(), kept, sequence.cache().bytesHeld()));
        }
        metrics.publish(active.size(), engine.pages().pagesInUse(), engine.pages().maxPages(),
                engine.pages().bytesInUse(), engine.pages().pageBytes(), stored == 0 ? 0 : 1 - (double) live / stored,
                sequences);
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

}
