package dev.winnow.tensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

class WorkerPoolTest {

    /** Each index once; chunk i is [i*n/threads, (i+1)*n/threads), and chunk 0 runs on the calling thread. */
    @Property(tries = 60)
    void everyIndexIsCoveredOnceInStaticContiguousChunks(@ForAll @IntRange(min = 1, max = 8) int threads,
                                                          @ForAll @IntRange(max = 5000) int n) {
        try (WorkerPool pool = new WorkerPool(threads)) {
            assertEquals(threads, pool.threads());
            AtomicIntegerArray visits = new AtomicIntegerArray(n);
            List<int[]> chunks = Collections.synchronizedList(new ArrayList<>());
            Thread caller = Thread.currentThread();
            pool.parallelFor(n, (start, end) -> {
                chunks.add(new int[] {start, end, Thread.currentThread() == caller ? 1 : 0});
                for (int i = start; i < end; i++) {
                    visits.incrementAndGet(i);
                }
            });
            for (int i = 0; i < n; i++) {
                assertEquals(1, visits.get(i), "index " + i);
            }
            for (int[] chunk : chunks) {
                assertTrue(chunk[0] < chunk[1], "empty chunks are not run");
                int index = (int) ((long) chunk[0] * threads / n);
                while ((long) (index + 1) * n / threads <= chunk[0]) {
                    index++; // the chunk whose start this is (several may start at the same index when empty)
                }
                assertEquals((long) index * n / threads, chunk[0], "chunk start");
                assertEquals((long) (index + 1) * n / threads, chunk[1], "chunk end");
                assertEquals(index == 0 ? 1 : 0, chunk[2], "chunk " + index + " on the calling thread only if it is chunk 0");
            }
        }
    }

    /** Each index once, in pieces of the size asked for (the last one shorter) that start at multiples of it. */
    @Property(tries = 60)
    void piecesCoverEveryIndexOnce(@ForAll @IntRange(min = 1, max = 8) int threads, @ForAll @IntRange(max = 5000) int n,
                                   @ForAll @IntRange(min = 1, max = 700) int pieceSize) {
        try (WorkerPool pool = new WorkerPool(threads)) {
            AtomicIntegerArray visits = new AtomicIntegerArray(n);
            List<int[]> pieces = Collections.synchronizedList(new ArrayList<>());
            pool.parallelForPieces(n, pieceSize, (start, end) -> {
                pieces.add(new int[] {start, end});
                for (int i = start; i < end; i++) {
                    visits.incrementAndGet(i);
                }
            });
            for (int i = 0; i < n; i++) {
                assertEquals(1, visits.get(i), "index " + i);
            }
            if (threads > 1) {
                for (int[] piece : pieces) {
                    assertEquals(0, piece[0] % pieceSize, "piece start");
                    assertEquals(Math.min(n, piece[0] + pieceSize), piece[1], "piece end");
                }
            }
        }
    }

    /** A thread that is held up leaves its pieces to the others: the loop does not wait for it to catch up. */
    @Example
    void aSlowThreadTakesFewerPieces() {
        try (WorkerPool pool = new WorkerPool(2)) {
            Thread caller = Thread.currentThread();
            AtomicLong byCaller = new AtomicLong();
            pool.parallelForPieces(100, 1, (start, end) -> {
                if (Thread.currentThread() == caller) {
                    byCaller.incrementAndGet();
                    try {
                        Thread.sleep(50);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            });
            assertTrue(byCaller.get() < 50, "the sleeping caller took " + byCaller.get() + " of 100 pieces");
        }
    }

    @Example
    void piecesOfNoIndicesAreRefused() {
        try (WorkerPool pool = new WorkerPool(2)) {
            assertThrows(IllegalArgumentException.class, () -> pool.parallelForPieces(10, 0, (start, end) -> { }));
            assertThrows(IllegalArgumentException.class, () -> pool.parallelForPieces(-1, 4, (start, end) -> { }));
        }
    }

    @Property(tries = 30)
    void aFailingChunkIsRethrownToTheCallerAndThePoolStaysUsable(@ForAll @IntRange(min = 1, max = 6) int threads,
                                                                 @ForAll @IntRange(min = 1, max = 100) int n,
                                                                 @ForAll @IntRange(max = 99) int failingIndex) {
        int failAt = failingIndex % n;
        IllegalStateException boom = new IllegalStateException("boom at " + failAt);
        try (WorkerPool pool = new WorkerPool(threads)) {
            AtomicLong finished = new AtomicLong();
            IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> pool.parallelFor(n, (start, end) -> {
                if (start <= failAt && failAt < end) {
                    throw boom;
                }
                finished.addAndGet(end - start);
            }));
            assertSame(boom, thrown);
            AtomicLong sum = new AtomicLong();
            pool.parallelFor(n, (start, end) -> sum.addAndGet(end - start));
            assertEquals(n, sum.get());
        }
    }

    @Example
    void errorsPropagateAsThemselvesAndCheckedExceptionsWrapped() {
        try (WorkerPool pool = new WorkerPool(3)) {
            AssertionError error = new AssertionError("from a worker");
            assertSame(error, assertThrows(AssertionError.class, () -> pool.parallelFor(3, (start, end) -> {
                if (start == 2) {
                    throw error;
                }
            })));
            IllegalStateException wrapped = assertThrows(IllegalStateException.class,
                    () -> pool.parallelFor(3, (start, end) -> sneakyThrow(new IOException("checked"))));
            assertTrue(wrapped.getCause() instanceof IOException, String.valueOf(wrapped.getCause()));
        }
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> void sneakyThrow(Throwable t) throws T {
        throw (T) t;
    }

    /**
     * The generation handoff must not lose a wake-up: many short loops, some with pauses long enough for
     * the workers to park, and more threads than this machine has cores. A lost wake-up hangs, which the
     * time limit (far above the normal second or two) turns into a failure.
     */
    @Example
    void manyRapidCallsFinish() {
        assertTimeoutPreemptively(Duration.ofSeconds(300), () -> { // a hang guard, generous for a loaded machine
            for (int threads : new int[] {2, 3, 5}) {
                try (WorkerPool pool = new WorkerPool(threads)) {
                    AtomicLong total = new AtomicLong();
                    for (int call = 0; call < 5_000; call++) {
                        pool.parallelFor(threads * 2, (start, end) -> total.addAndGet(end - start));
                        if (call % 500 == 0) {
                            Thread.sleep(2); // past the spin and yield phases: the workers park
                        }
                    }
                    assertEquals(5_000L * threads * 2, total.get());
                }
            }
        });
    }

    @Example
    void oneThreadRunsInlineOnTheCaller() {
        try (WorkerPool pool = new WorkerPool(1)) {
            Thread caller = Thread.currentThread();
            List<int[]> chunks = new ArrayList<>();
            pool.parallelFor(10, (start, end) -> {
                assertSame(caller, Thread.currentThread());
                chunks.add(new int[] {start, end});
            });
            assertEquals(1, chunks.size());
            assertEquals(0, chunks.get(0)[0]);
            assertEquals(10, chunks.get(0)[1]);
        }
    }

    @Example
    void misuseIsRefusedWithAReason() {
        assertThrows(IllegalArgumentException.class, () -> new WorkerPool(0));
        WorkerPool pool = new WorkerPool(2);
        assertThrows(IllegalArgumentException.class, () -> pool.parallelFor(-1, (start, end) -> { }));
        IllegalStateException nested = assertThrows(IllegalStateException.class,
                () -> pool.parallelFor(2, (start, end) -> pool.parallelFor(2, (s, e) -> { })));
        assertTrue(nested.getMessage().contains("another loop"), nested.getMessage());
        assertThrows(IllegalStateException.class, () -> pool.parallelFor(2, (start, end) -> pool.close()));
        pool.parallelFor(0, (start, end) -> {
            throw new AssertionError("nothing to run");
        });
        pool.close();
        pool.close();
        IllegalStateException closed = assertThrows(IllegalStateException.class, () -> pool.parallelFor(2, (start, end) -> { }));
        assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
    }

    @Example
    void closeStopsTheWorkerThreads() throws InterruptedException {
        List<Thread> workers = new ArrayList<>();
        WorkerPool pool = new WorkerPool(4);
        pool.parallelFor(4, (start, end) -> {
            if (start > 0) {
                synchronized (workers) {
                    workers.add(Thread.currentThread());
                }
            }
        });
        assertEquals(3, workers.size());
        for (Thread worker : workers) {
            assertTrue(worker.isDaemon(), "workers do not keep the JVM alive");
        }
        pool.close();
        for (Thread worker : workers) {
            worker.join(5_000);
            assertTrue(!worker.isAlive(), worker.getName() + " still running");
        }
    }
}
