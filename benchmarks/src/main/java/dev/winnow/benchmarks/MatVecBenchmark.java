package dev.winnow.benchmarks;

import dev.winnow.tensors.FloatTensor;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tensors.WorkerPool;
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
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Matrix-vector products (the decode step's work) of every computable type. {@code footprintMiB} sets how much
 * weight memory the benchmark cycles through: at 1024 MiB the matrices cannot stay in any cache, so the
 * {@code gigabytes} counter (weight bytes read per second, in GB/s) compares with the machine's memory
 * bandwidth ({@link MemoryBandwidthBenchmark}); at 0 one matrix is reused, measuring the kernel alone.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseParallelGC", "-XX:ObjectAlignmentInBytes=64"})
public class MatVecBenchmark {
    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    public GgmlType type;

    /** rows x cols: 8192 x 2048 is a 1B model's FFN gate or up projection. */
    @Param({"8192x2048"})
    public String shape;

    @Param({"1024"})
    public int footprintMiB;

    @Param({"2"})
    public int threads;

    private Arena arena;
    private WorkerPool pool;
    private FloatTensor[] matrices;
    private float[] x;
    private float[] out;
    private int next;

    /** Weight bytes read, in gigabytes: JMH reports it per second. */
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
        int rows = Shapes.rows(shape);
        int cols = Shapes.cols(shape);
        arena = Arena.ofShared();
        pool = new WorkerPool(threads);
        SplittableRandom random = new SplittableRandom(1);
        FloatTensor first = RandomMatrices.matrix(type, rows, cols, arena, random);
        long bytes = first.segment().byteSize();
        int count = (int) Math.max(1, (footprintMiB * 1024L * 1024L + bytes - 1) / bytes);
        matrices = new FloatTensor[count];
        matrices[0] = first;
        for (int i = 1; i < count; i++) {
            // Copies: the same numbers at other addresses, so each product streams its weights from memory.
            MemorySegment copy = arena.allocate(bytes, 64).copyFrom(first.segment());
            matrices[i] = FloatTensor.of(type, copy, rows, cols);
        }
        x = RandomMatrices.vector(cols, random);
        out = new float[rows];
    }

    @TearDown
    public void tearDown() {
        pool.close();
        arena.close();
    }

    @Benchmark
    public float[] matVec(Traffic traffic) {
        FloatTensor m = matrices[next];
        next = next + 1 == matrices.length ? 0 : next + 1;
        m.matVec(x, out, pool);
        traffic.gigabytes += m.segment().byteSize() * 1e-9;
        return out;
    }
}
