package dev.winnow.tensors;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of daemon platform threads for data-parallel loops. {@link #parallelFor} splits [0, n) into
 * {@link #threads()} contiguous chunks; the calling thread runs the first and each worker one other.
 * {@link #parallelForPieces} instead cuts [0, n) into many small pieces that the threads claim one after the
 * other, so that a thread slowed by other programs on its core takes fewer of them and nobody waits for it.
 * It is called many times per token, so a call allocates nothing and creates no thread: a generation
 * counter publishes the work, workers spin briefly waiting for it, then yield, then park, and the caller waits
 * the same way for the last chunk to finish.
 *
 * <p>One {@code parallelFor} at a time: a call made while another is running (from another thread, or
 * from inside a task) is refused with an {@link IllegalStateException} rather than deadlocking. With one
 * thread there are no workers: the task runs inline on the caller, nested calls included.
 */
public final class WorkerPool implements AutoCloseable {
    /** A piece of a parallel loop: handles indices [start, end). */
    @FunctionalInterface
    public interface RangeTask {
        void run(int start, int end);
    }

    /** How long a waiting thread spins: the usual gap between two loops of a forward pass. */
    private static final long SPIN_NANOS = 5_000;
    /**
     * How long it then keeps yielding before it parks. Yielding lets a thread that has work run when
     * there are more threads than free cores, where spinning would hold the core it needs.
     */
    private static final long YIELD_NANOS = 100_000;

    private final int threads;
    private final Worker[] workers;
    private final AtomicBoolean busy = new AtomicBoolean();
    private final AtomicInteger pending = new AtomicInteger();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile int generation;
    private volatile boolean closed;
    private volatile boolean callerParked;
    private final AtomicInteger nextPiece = new AtomicInteger();
    private Thread caller;
    private RangeTask task;
    private int n;
    /** 0: static chunks; else the size of the pieces the threads claim. */
    private int pieceSize;

    /**
     * @param threads the number of threads a loop runs on, counting the calling thread
     * @throws IllegalArgumentException if threads is below 1
     */
    public WorkerPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("a worker pool needs at least 1 thread, got " + threads);
        }
        this.threads = threads;
        this.workers = new Worker[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(i + 1);
            Thread thread = new Thread(workers[i], "winnow-worker-" + (i + 1));
            thread.setDaemon(true);
            workers[i].thread = thread;
            thread.start();
        }
    }

    public int threads() {
        return threads;
    }

    /**
     * Runs task over [0, n) split into {@link #threads()} contiguous chunks (chunk i is
     * [i*n/threads, (i+1)*n/threads); empty chunks are not run) and returns when all are done.
     * If chunks throw, the first failure is rethrown here after every chunk has finished.
     *
     * @throws IllegalArgumentException if n is negative
     * @throws IllegalStateException if the pool is closed or already running a loop
     */
    public void parallelFor(int n, RangeTask task) {
        run(n, 0, task);
    }

    /**
     * Runs task over [0, n) cut into pieces of {@code pieceSize} indices (the last one may be shorter), which the
     * calling thread and the workers claim one at a time until none are left, and returns when all are done.
     * With one thread, task runs once over [0, n). If pieces throw, the first failure is rethrown here after
     * every thread has stopped.
     *
     * @throws IllegalArgumentException if n is negative or pieceSize is below 1
     * @throws IllegalStateException if the pool is closed or already running a loop
     */
    public void parallelForPieces(int n, int pieceSize, RangeTask task) {
        if (pieceSize < 1) {
            throw new IllegalArgumentException("parallelForPieces needs pieces of at least 1 index, got " + pieceSize);
        }
        run(n, pieceSize, task);
    }

    private void run(int n, int pieceSize, RangeTask task) {
        if (n < 0) {
            throw new IllegalArgumentException("parallelFor over a negative count: " + n);
        }
        if (closed) {
            throw new IllegalStateException("the worker pool is closed");
        }
        if (workers.length == 0) {
            if (n > 0) {
                task.run(0, n);
            }
            return;
        }
        if (!busy.compareAndSet(false, true)) {
            throw new IllegalStateException("parallelFor called while the pool is running another loop (nested or concurrent use)");
        }
        try {
            this.task = task;
            this.n = n;
            this.pieceSize = pieceSize;
            this.caller = Thread.currentThread();
            nextPiece.set(0);
            failure.set(null);
            pending.set(workers.length);
            generation++; // publishes task, n, pieceSize and caller to the workers (volatile write)
            for (Worker worker : workers) {
                if (worker.parked) {
                    LockSupport.unpark(worker.thread);
                }
            }
            runShare(0);
            awaitWorkers();
            this.task = null;
            rethrow(failure.getAndSet(null));
        } finally {
            busy.set(false);
        }
    }

    /** Thread {@code index}'s part of the loop: its static chunk, or pieces until none are left. */
    private void runShare(int index) {
        try {
            if (pieceSize == 0) {
                int start = chunkStart(index);
                int end = chunkStart(index + 1);
                if (start < end) {
                    task.run(start, end);
                }
                return;
            }
            for (int piece = nextPiece.getAndIncrement(); (long) piece * pieceSize < n; piece = nextPiece.getAndIncrement()) {
                int start = piece * pieceSize;
                task.run(start, (int) Math.min(n, (long) start + pieceSize));
            }
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
        }
    }

    private int chunkStart(int index) {
        return (int) ((long) index * n / threads);
    }

    private void awaitWorkers() {
        long waitingSince = System.nanoTime();
        while (pending.get() != 0) {
            if (!spinOrYield(waitingSince)) {
                callerParked = true;
                if (pending.get() != 0) {
                    LockSupport.park(this);
                }
                callerParked = false;
            }
        }
    }

    /** One step of a wait that began at waitingSince: spins, then yields; false once it is time to park. */
    private static boolean spinOrYield(long waitingSince) {
        long waited = System.nanoTime() - waitingSince;
        if (waited < SPIN_NANOS) {
            Thread.onSpinWait();
            return true;
        }
        if (waited < YIELD_NANOS) {
            Thread.yield();
            return true;
        }
        return false;
    }

    private void chunkDone() {
        if (pending.decrementAndGet() == 0 && callerParked) {
            LockSupport.unpark(caller);
        }
    }

    private static void rethrow(Throwable thrown) {
        if (thrown == null) {
            return;
        }
        if (thrown instanceof RuntimeException e) {
            throw e;
        }
        if (thrown instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException("a parallelFor chunk failed", thrown);
    }

    /**
     * Stops the workers and waits for them to exit; later calls of {@link #parallelFor} are refused.
     * Closing twice does nothing.
     *
     * @throws IllegalStateException if a loop is running (from inside a task, or from another thread)
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        // Holding the loop flag for good keeps a loop from starting while, or after, the workers stop.
        if (!busy.compareAndSet(false, true)) {
            throw new IllegalStateException("cannot close the worker pool while it is running a loop");
        }
        closed = true;
        generation++;
        for (Worker worker : workers) {
            LockSupport.unpark(worker.thread);
        }
        for (Worker worker : workers) {
            try {
                worker.thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private final class Worker implements Runnable {
        private final int chunk;
        private Thread thread;
        private volatile boolean parked;

        Worker(int chunk) {
            this.chunk = chunk;
        }

        @Override
        public void run() {
            // The generation a new pool starts at: reading the field here could miss a first loop
            // published before this thread got going.
            int seen = 0;
            while (true) {
                seen = awaitGeneration(seen);
                if (closed) {
                    return;
                }
                runShare(chunk);
                chunkDone();
            }
        }

        /** Waits until the generation moves past seen; returns the new one. */
        private int awaitGeneration(int seen) {
            long waitingSince = System.nanoTime();
            int current;
            while ((current = generation) == seen) {
                if (!spinOrYield(waitingSince)) {
                    parked = true;
                    if (generation == seen) {
                        LockSupport.park(WorkerPool.this);
                    }
                    parked = false;
                }
            }
            return current;
        }
    }
}
