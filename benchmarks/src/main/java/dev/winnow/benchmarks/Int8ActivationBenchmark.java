package dev.winnow.benchmarks;

import dev.winnow.tensors.FloatTensor;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tensors.WorkerPool;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
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
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The experiment behind the choice of the float kernels: ggml's approach, activations quantized to 8 bits per
 * block of 32 and integer block dot products, against Winnow's matrix-vector product (weights widened to floats,
 * float multiply-adds), single-threaded on a matrix that stays in cache, so that the kernels and not memory are
 * measured. The Vector API has no byte or short dot-product instruction (x86's vpmaddubsw, vpmaddwd, vpdpbusd):
 * an integer block dot must widen bytes to shorts, multiply, widen again to ints and add, which costs more
 * instructions per block than widening the weights to floats and multiplying-adding, so the float path wins on
 * both types (docs/performance.md has the figures). The integer kernels here are written for 512-bit vectors;
 * with other widths the benchmark reports nothing and says so.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseParallelGC"})
public class Int8ActivationBenchmark {
    private static final VectorSpecies<Byte> BYTES_32 = ByteVector.SPECIES_256;
    private static final VectorSpecies<Byte> BYTES_16 = ByteVector.SPECIES_128;
    private static final VectorSpecies<Short> SHORTS_32 = ShortVector.SPECIES_512;
    private static final VectorSpecies<Short> SHORTS_16 = ShortVector.SPECIES_256;
    private static final VectorSpecies<Integer> INTS_16 = IntVector.SPECIES_512;
    private static final VectorSpecies<Float> FLOATS_16 = FloatVector.SPECIES_512;
    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int BLOCK = 32;

    @Param({"Q8_0", "Q4_0"})
    public GgmlType type;

    @Param({"float", "int8"})
    public String path;

    /** 512 x 2048: about 1 MiB of Q8_0, which stays in the L2 cache. */
    @Param({"512x2048"})
    public String shape;

    private Arena arena;
    private WorkerPool pool;
    private FloatTensor matrix;
    private MemorySegment weights;
    private float[] x;
    private byte[] xQuants;
    private float[] xScales;
    private float[] out;
    private int rows;
    private int cols;

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
        if (FloatVector.SPECIES_PREFERRED.length() < 16) {
            throw new IllegalStateException("the integer kernels of this experiment need 512-bit vectors");
        }
        rows = Shapes.rows(shape);
        cols = Shapes.cols(shape);
        arena = Arena.ofShared();
        pool = new WorkerPool(1);
        SplittableRandom random = new SplittableRandom(5);
        matrix = RandomMatrices.matrix(type, rows, cols, arena, random);
        weights = matrix.segment();
        x = RandomMatrices.vector(cols, random);
        xQuants = new byte[cols];
        xScales = new float[cols / BLOCK];
        out = new float[rows];
        checkAgainstTheFloatPath();
    }

    @TearDown
    public void tearDown() {
        pool.close();
        arena.close();
    }

    @Benchmark
    public float[] matVec(Traffic traffic) {
        if (path.equals("float")) {
            matrix.matVec(x, out, pool);
        } else {
            int8MatVec();
        }
        traffic.gigabytes += weights.byteSize() * 1e-9;
        return out;
    }

    private void int8MatVec() {
        quantizeActivations();
        for (int r = 0; r < rows; r++) {
            out[r] = type == GgmlType.Q8_0 ? q8Row(r) : q4Row(r);
        }
    }

    /** ggml's quantize_row_q8_0 for the activations: per block, d = max|x| / 127 and q = round(x / d). */
    private void quantizeActivations() {
        for (int b = 0; b < cols / BLOCK; b++) {
            float max = 0;
            for (int i = 0; i < BLOCK; i++) {
                max = Math.max(max, Math.abs(x[b * BLOCK + i]));
            }
            float d = max / 127;
            float inverse = d == 0 ? 0 : 1 / d;
            xScales[b] = d;
            for (int i = 0; i < BLOCK; i++) {
                xQuants[b * BLOCK + i] = (byte) Math.round(x[b * BLOCK + i] * inverse);
            }
        }
    }

    /** Q8_0 weights: 32 byte products per block as shorts, widened to ints and added, then scaled once. */
    private float q8Row(int r) {
        long rowStart = r * GgmlType.Q8_0.rowBytes(cols);
        FloatVector acc = FloatVector.zero(FLOATS_16);
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = rowStart + b * 34L;
            ShortVector w = (ShortVector) ByteVector.fromMemorySegment(BYTES_32, weights, block + 2, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2S, SHORTS_32, 0);
            ShortVector a = (ShortVector) ByteVector.fromArray(BYTES_32, xQuants, b * BLOCK)
                    .convertShape(VectorOperators.B2S, SHORTS_32, 0);
            acc = scaledBlockSum(w.mul(a), Float.float16ToFloat(weights.get(HALF, block)) * xScales[b], acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * Q4_0 weights: nibbles widened to shorts, minus 8, times the activation quants. The block's low nibbles
     * are values 0..15 and the high ones 16..31, so the two halves meet the two halves of the activation block.
     */
    private float q4Row(int r) {
        long rowStart = r * GgmlType.Q4_0.rowBytes(cols);
        FloatVector acc = FloatVector.zero(FLOATS_16);
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = rowStart + b * 18L;
            ShortVector packed = (ShortVector) ByteVector.fromMemorySegment(BYTES_16, weights, block + 2, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2S, SHORTS_16, 0);
            ShortVector low = packed.and((short) 0x0F).sub((short) 8);
            ShortVector high = packed.lanewise(VectorOperators.LSHR, 4).sub((short) 8);
            ShortVector aLow = (ShortVector) ByteVector.fromArray(BYTES_16, xQuants, b * BLOCK)
                    .convertShape(VectorOperators.B2S, SHORTS_16, 0);
            ShortVector aHigh = (ShortVector) ByteVector.fromArray(BYTES_16, xQuants, b * BLOCK + 16)
                    .convertShape(VectorOperators.B2S, SHORTS_16, 0);
            // 16 shorts: each lane is two products (|8 * 127| twice fits a short).
            ShortVector sums = low.mul(aLow).add(high.mul(aHigh));
            IntVector ints = (IntVector) sums.convertShape(VectorOperators.S2I, INTS_16, 0);
            float d = Float.float16ToFloat(weights.get(HALF, block)) * xScales[b];
            acc = ((FloatVector) ints.convertShape(VectorOperators.I2F, FLOATS_16, 0)).fma(FloatVector.broadcast(FLOATS_16, d), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** acc + d * (the 32 short products summed pairwise into 16 ints, as floats). */
    private static FloatVector scaledBlockSum(ShortVector products, float d, FloatVector acc) {
        IntVector low = (IntVector) products.convertShape(VectorOperators.S2I, INTS_16, 0);
        IntVector high = (IntVector) products.convertShape(VectorOperators.S2I, INTS_16, 1);
        FloatVector sum = (FloatVector) low.add(high).convertShape(VectorOperators.I2F, FLOATS_16, 0);
        return sum.fma(FloatVector.broadcast(FLOATS_16, d), acc);
    }

    /**
     * The integer path loses up to half a quantization step of each activation: its products must agree with the
     * float path's within that, or the comparison would be of two different computations.
     */
    private void checkAgainstTheFloatPath() {
        float[] expected = new float[rows];
        matrix.matVec(x, expected, pool);
        int8MatVec();
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            matrix.dequantizeRow(r, row, 0);
            double bound = 0;
            for (int i = 0; i < cols; i++) {
                bound += Math.abs(row[i]) * (xScales[i / BLOCK] / 2 + Math.ulp(x[i]));
            }
            if (!(Math.abs(out[r] - expected[r]) <= bound * 1.01 + 1e-6)) {
                throw new IllegalStateException("int8 path row %d: %s, float path %s, bound %s".formatted(r, out[r], expected[r], bound));
            }
        }
    }
}
