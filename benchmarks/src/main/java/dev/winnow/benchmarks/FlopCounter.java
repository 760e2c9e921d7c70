package dev.winnow.benchmarks;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Billions of floating-point operations (2 per multiply-add) done by a benchmark's thread: JMH reports the
 * {@code gflops} counter per second, so the prompt product and the FMA peak read in the same unit.
 */
@State(Scope.Thread)
@AuxCounters(AuxCounters.Type.OPERATIONS)
public class FlopCounter {
    public double gflops;

    @Setup(Level.Iteration)
    public void reset() {
        gflops = 0;
    }
}
