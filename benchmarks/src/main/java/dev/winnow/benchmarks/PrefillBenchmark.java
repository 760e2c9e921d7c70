package dev.winnow.benchmarks;

import dev.winnow.tensors.FloatTensor;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tensors.WorkerPool;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
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
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The prompt-block product {@link FloatTensor#matMul}: one weight matrix times {@code batch} token vectors, as
 * the engine runs it for each block of a prompt. The {@code gflops} counter gives billions of floating-point
 * operations (2 per multiply-add) per second.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseParallelGC", "-XX:ObjectAlignmentInBytes=64"})
public class PrefillBenchmark {
    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    public GgmlType type;

    /** rows x cols: a 1B model's FFN up projection (8192 x 2048) and down projection (2048 x 8192). */
    @Param({"8192x2048", "2048x8192"})
    public String shape;

    /** Tokens per block: LlamaModel.DEFAULT_BLOCK. */
    @Param({"128"})
    public int batch;

    @Param({"2"})
    public int threads;

    private Arena arena;
    private WorkerPool pool;
    private FloatTensor matrix;
    private float[] x;
    private float[] out;

    @Setup
    public void setUp() {
        arena = Arena.ofShared();
        pool = new WorkerPool(threads);
        SplittableRandom random = new SplittableRandom(2);
        matrix = RandomMatrices.matrix(type, Shapes.rows(shape), Shapes.cols(shape), arena, random);
        x = RandomMatrices.vector(batch * matrix.cols(), random);
        out = new float[batch * matrix.rows()];
    }

    @TearDown
    public void tearDown() {
        pool.close();
        arena.close();
    }

    @Benchmark
    public float[] matMul(FlopCounter work) {
        matrix.matMul(x, out, batch, pool);
        work.gflops += 2e-9 * batch * matrix.rows() * matrix.cols();
        return out;
    }
}
