package dev.winnow.benchmarks;

import dev.winnow.engine.sampling.Sampler;
import dev.winnow.engine.sampling.SamplerConfig;
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
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * One token sampled from the 135M shape's 49,152 logits, one thread: the server's per-token sampling work on the
 * decode loop. {@code config}: {@code openai} is what ServerThroughputBenchmark's clients ask for (temperature 0.8,
 * no top-k, top-p or min-p: every token weighed), {@code defaults} Winnow's own (top-k 40, top-p 0.95, min-p 0.05),
 * {@code greedy} the step-alone measurement's.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class SamplerBenchmark {
    @Param({"openai", "defaults", "greedy"})
    public String config;

    private Sampler sampler;
    private float[] logits;

    @Setup
    public void setUp() {
        SplittableRandom random = new SplittableRandom(11);
        logits = new float[49_152];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) (random.nextGaussian() * 2);
        }
        sampler = Sampler.create(switch (config) {
            case "openai" -> new SamplerConfig(0.8f, 0, 1f, 0f, 1f, 64, 7L);
            case "defaults" -> new SamplerConfig(0.8f, 40, 0.95f, 0.05f, 1f, 64, 7L);
            case "greedy" -> SamplerConfig.greedy();
            default -> throw new IllegalArgumentException("unknown sampler configuration " + config);
        });
    }

    @Benchmark
    public int sample() {
        return sampler.sample(logits);
    }
}
