package dev.winnow.benchmarks;

import dev.winnow.tensors.F16Tensor;
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
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Half to float conversion of a row held in cache, one thread: {@link F16Tensor#toFloats} (a plain loop of
 * {@link Float#float16ToFloat}, which the JIT compiles to the processor's vector conversion instruction) from a
 * native segment and from a {@code short[]}, against the Vector API integer emulation Winnow used before (kept
 * here as the baseline: shift the half's bits into float position, re-bias the exponent with one multiply, restore
 * infinities and NaNs with a masked OR). JDK 25's Vector API has no half-to-float conversion operator. The
 * {@code gvalues} counter gives billions of values converted per second.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class HalfConversionBenchmark {
    private static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VectorSpecies<Float> FLOAT = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> INT = FLOAT.withLanes(int.class);
    private static final VectorSpecies<Short> SHORT =
            VectorSpecies.of(short.class, VectorShape.forBitSize(FLOAT.vectorBitSize() / 2));

    /** Values per call: a row of a 1B model's matrices (2048) and of its FFN down projection (8192). */
    @Param({"2048", "8192"})
    public int values;

    private MemorySegment halves;
    private short[] halfArray;
    private float[] out;

    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Work {
        public double gvalues;

        @Setup(Level.Iteration)
        public void reset() {
            gvalues = 0;
        }
    }

    @Setup
    public void setUp() {
        SplittableRandom random = new SplittableRandom(3);
        halves = Arena.ofAuto().allocate(2L * values, 64);
        halfArray = new short[values];
        for (int i = 0; i < values; i++) {
            short half = Float.floatToFloat16((float) (random.nextGaussian() * 0.02));
            halfArray[i] = half;
            halves.set(LE_SHORT, 2L * i, half);
        }
        out = new float[values];
    }

    @Benchmark
    public float[] jdkConversionFromSegment(Work work) {
        F16Tensor.toFloats(halves, 0, out, 0, values);
        work.gvalues += values * 1e-9;
        return out;
    }

    @Benchmark
    public float[] jdkConversionFromArray(Work work) {
        F16Tensor.toFloats(halfArray, 0, out, 0, values);
        work.gvalues += values * 1e-9;
        return out;
    }

    @Benchmark
    public float[] vectorIntegerEmulation(Work work) {
        for (int i = 0; i < values; i += FLOAT.length()) {
            ShortVector bits = ShortVector.fromMemorySegment(SHORT, halves, 2L * i, ByteOrder.LITTLE_ENDIAN);
            emulatedHalfToFloat((IntVector) bits.convertShape(VectorOperators.S2I, INT, 0)).intoArray(out, i);
        }
        work.gvalues += values * 1e-9;
        return out;
    }

    private static FloatVector emulatedHalfToFloat(IntVector halves) {
        IntVector bits = halves.lanewise(VectorOperators.LSHL, 13).and(0x8FFF_E000);
        VectorMask<Integer> notFinite = halves.and(0x7C00).compare(VectorOperators.EQ, 0x7C00);
        IntVector rebiased = bits.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
        return rebiased.lanewise(VectorOperators.OR, 0x7F80_0000, notFinite).reinterpretAsFloats();
    }
}
