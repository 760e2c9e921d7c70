package dev.winnow.benchmarks;

import dev.winnow.tensors.WorkerPool;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;

/**
 * The roofline of a decode step: how fast this machine streams memory into the cores. Each operation sums every
 * 64-bit word of a buffer far larger than the caches, split across the worker pool like a matrix's rows are;
 * the {@code gigabytes} counter gives GB/s.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseParallelGC"})
public class MemoryBandwidthBenchmark {
    private static final VectorSpecies<Long> LONGS = LongVector.SPECIES_PREFERRED;
    private static final int UNROLL = 4;

    @Param({"1", "2"})
    public int threads;

    @Param({"1024"})
    public int sizeMiB;

    private Arena arena;
    private MemorySegment buffer;
    private WorkerPool pool;
    private long[] partialSums;

    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Traffic {
        public double gigabytes;

        @Setup(Level.Iteration)
        public void reset() {
            gigabytes = 0;
        }
    }

    @Setup
    public void setUp() {
        arena = Arena.ofShared();
        buffer = arena.allocate(sizeMiB * 1024L * 1024L, 4096);
        buffer.fill((byte) 1);
        pool = new WorkerPool(threads);
        partialSums = new long[threads];
    }

    @TearDown
    public void tearDown() {
        pool.close();
        arena.close();
    }

    @Benchmark
    public long read(Traffic traffic) {
        long stride = (long) LONGS.vectorByteSize() * UNROLL;
        long blocks = buffer.byteSize() / stride;
        pool.parallelFor(threads, (first, end) -> {
            for (int part = first; part < end; part++) {
                long from = blocks * part / threads * stride;
                long to = blocks * (part + 1) / threads * stride;
                partialSums[part] = sum(from, to);
            }
        });
        traffic.gigabytes += buffer.byteSize() * 1e-9;
        long total = 0;
        for (long s : partialSums) {
            total += s;
        }
        return total;
    }

    private long sum(long from, long to) {
        int width = LONGS.vectorByteSize();
        LongVector a0 = LongVector.zero(LONGS);
        LongVector a1 = a0;
        LongVector a2 = a0;
        LongVector a3 = a0;
        for (long at = from; at < to; at += UNROLL * width) {
            a0 = a0.add(LongVector.fromMemorySegment(LONGS, buffer, at, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(LongVector.fromMemorySegment(LONGS, buffer, at + width, ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(LongVector.fromMemorySegment(LONGS, buffer, at + 2L * width, ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(LongVector.fromMemorySegment(LONGS, buffer, at + 3L * width, ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
    }
}
