package dev.winnow.benchmarks;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The machine's float multiply-add peak as the Vector API reaches it: {@link #CHAINS} independent chains of fused
 * multiply-adds on vectors held in registers, nothing read or written in the loop. Enough chains that every
 * multiply-add unit has work while each chain waits out its latency (4-5 cycles, 2 units per core: 10 in flight).
 * The {@code gflops} counter (2 operations per lane of each multiply-add) is the roofline that
 * {@link PrefillBenchmark}'s figure is a fraction of; run both in one JMH command to compare them.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class FmaPeakBenchmark {
    private static final VectorSpecies<Float> FLOAT = FloatVector.SPECIES_PREFERRED;
    /** Independent chains. */
    private static final int CHAINS = 12;
    /** Steps of every chain per call: long enough that the call's own cost vanishes. */
    private static final int STEPS = 4096;

    /** A factor below 1 and an addend that keep every chain finite and away from subnormals for ever. */
    public float factor = 0.999f;
    public float addend = 1e-3f;

    /** One thread. */
    @Benchmark
    @Threads(1)
    public float oneThread(FlopCounter work) {
        return chains(work);
    }

    /** Two threads at once, each with its own chains: the machine's two cores. */
    @Benchmark
    @Threads(2)
    public float twoThreads(FlopCounter work) {
        return chains(work);
    }

    private float chains(FlopCounter work) {
        FloatVector m = FloatVector.broadcast(FLOAT, factor);
        FloatVector c = FloatVector.broadcast(FLOAT, addend);
        FloatVector s0 = FloatVector.broadcast(FLOAT, 1f);
        FloatVector s1 = s0.add(c);
        FloatVector s2 = s1.add(c);
        FloatVector s3 = s2.add(c);
        FloatVector s4 = s3.add(c);
        FloatVector s5 = s4.add(c);
        FloatVector s6 = s5.add(c);
        FloatVector s7 = s6.add(c);
        FloatVector s8 = s7.add(c);
        FloatVector s9 = s8.add(c);
        FloatVector s10 = s9.add(c);
        FloatVector s11 = s10.add(c);
        for (int i = 0; i < STEPS; i++) {
            s0 = s0.fma(m, c);
            s1 = s1.fma(m, c);
            s2 = s2.fma(m, c);
            s3 = s3.fma(m, c);
            s4 = s4.fma(m, c);
            s5 = s5.fma(m, c);
            s6 = s6.fma(m, c);
            s7 = s7.fma(m, c);
            s8 = s8.fma(m, c);
            s9 = s9.fma(m, c);
            s10 = s10.fma(m, c);
            s11 = s11.fma(m, c);
        }
        work.gflops += 2e-9 * FLOAT.length() * CHAINS * STEPS;
        return s0.add(s1).add(s2).add(s3).add(s4).add(s5).add(s6).add(s7).add(s8).add(s9).add(s10).add(s11).lane(0);
    }
}
